"""The README documents every setting of every service, exactly as the Settings classes say."""

from ticketing.devstack.configuration import README, SERVICES, render, settings_class, with_section


def test_the_readme_configuration_section_matches_the_settings_classes() -> None:
    readme = README.read_text()

    assert with_section(readme, render()) == readme, (
        "README.md's Configuration section is stale: run "
        "`uv run --all-packages python -m ticketing.devstack config`"
    )


def test_every_service_has_a_settings_class_with_its_own_prefix() -> None:
    prefixes = {str(settings_class(s).model_config.get("env_prefix")) for s in SERVICES}

    assert prefixes == {f"{service.upper()}_" for service in SERVICES}
