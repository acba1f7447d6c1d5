"""The auth service: sign-up, sign-in, sessions; the only holder of the JWT signing key."""
