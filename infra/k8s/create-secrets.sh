#!/usr/bin/env bash
# Create the Secrets the manifests reference by name (nothing secret is committed).
#
#   STRIPE_SECRET_KEY=sk_test_... STRIPE_WEBHOOK_SECRET=whsec_... \
#   [STRIPE_PUBLISHABLE_KEY=pk_test_...] [SMTP_PASSWORD=SG.... SMTP_HOST=... SMTP_PORT=...
#   SMTP_SECURITY=starttls|tls SMTP_USERNAME=...] infra/k8s/create-secrets.sh <dev|staging|prod>
#
# dev -> the current namespace of the kubectl context (skaffold deploys there);
# staging -> ticketing-staging; prod -> ticketing.
# Secrets that already exist are kept (a new JWT key would sign everyone out; a new database
# password would not match the one PostgreSQL was initialised with); `stripe` is updated.
set -euo pipefail

overlay="${1:?usage: $0 dev|staging|prod}"
case "$overlay" in
  dev) ns_args=() ;;
  staging) ns_args=(--namespace ticketing-staging) ;;
  prod) ns_args=(--namespace ticketing) ;;
  *) echo "unknown overlay: $overlay" >&2; exit 2 ;;
esac
: "${STRIPE_SECRET_KEY:?set STRIPE_SECRET_KEY (a Stripe secret key, sk_test_... outside prod)}"
: "${STRIPE_WEBHOOK_SECRET:?set STRIPE_WEBHOOK_SECRET (whsec_..., from the Stripe dashboard)}"

k() { kubectl "${ns_args[@]}" "$@"; }
exists() { k get secret "$1" >/dev/null 2>&1; }
workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

if [[ "$overlay" != dev ]]; then
  k create namespace "${ns_args[1]}" --dry-run=client -o yaml | kubectl apply -f -
fi

# Ed25519 key pair: auth signs sessions with the private key, every service verifies with
# the public one.
if ! exists jwt-private-key; then
  openssl genpkey -algorithm ed25519 -out "$workdir/private.pem"
  openssl pkey -in "$workdir/private.pem" -pubout -out "$workdir/public.pem"
  k create secret generic jwt-private-key --from-file=private.pem="$workdir/private.pem"
  k create secret generic jwt-public-key --from-file=public.pem="$workdir/public.pem" \
    --dry-run=client -o yaml | k apply -f -
fi

# The client's CSRF key (HMAC of the double-submit tokens): required outside development.
if ! exists client-csrf; then
  k create secret generic client-csrf --from-literal=secret="$(openssl rand -hex 32)"
fi

stripe=(--from-literal=secret-key="$STRIPE_SECRET_KEY"
        --from-literal=webhook-secret="$STRIPE_WEBHOOK_SECRET")
if [[ -n "${STRIPE_PUBLISHABLE_KEY:-}" ]]; then  # optional: the client's Stripe.js card form
  stripe+=(--from-literal=publishable-key="$STRIPE_PUBLISHABLE_KEY")
fi
k create secret generic stripe "${stripe[@]}" --dry-run=client -o yaml | k apply -f -

# The notifications worker's SMTP relay: SendGrid's unless SMTP_HOST says otherwise (username
# `apikey`, password a SendGrid API key). Created when missing, replaced when SMTP_PASSWORD is
# given; without a password the relay refuses the emails, which wait (retried) until it is set.
if [[ -n "${SMTP_PASSWORD:-}" ]] || ! exists smtp; then
  [[ -n "${SMTP_PASSWORD:-}" ]] || echo "warning: SMTP_PASSWORD is not set: no email leaves until it is" >&2
  k create secret generic smtp \
    --from-literal=host="${SMTP_HOST:-smtp.sendgrid.net}" \
    --from-literal=port="${SMTP_PORT:-587}" \
    --from-literal=security="${SMTP_SECURITY:-starttls}" \
    --from-literal=username="${SMTP_USERNAME:-apikey}" \
    --from-literal=password="${SMTP_PASSWORD:-}" \
    --dry-run=client -o yaml | k apply -f -
fi

# One PostgreSQL per service; the dev overlay generates its own placeholder credentials.
if [[ "$overlay" != dev ]]; then
  for service in auth tickets orders payments query notifications; do
    exists "$service-db" && continue
    password="$(openssl rand -hex 24)"
    k create secret generic "$service-db" \
      --from-literal=password="$password" \
      --from-literal=url="postgresql+asyncpg://$service:$password@$service-postgres:5432/$service"
  done
fi
echo "secrets ready for overlay $overlay"
