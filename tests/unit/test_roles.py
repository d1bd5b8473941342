"""The services' logins: URLs with a login put in, passwords kept owner-only and reused."""

from pathlib import Path

from infra.roles import DbRole, literal, stored_password, with_login
from infra.settings import Settings


def test_a_login_replaces_user_and_password_and_keeps_the_rest() -> None:
    socket = "postgresql://postgres@/postgres?host=/data/.zs/postgres"
    tcp = "postgresql://owner:secret@db.internal:5432/zs?sslmode=verify-full"

    assert with_login(socket, "zs_api_local", "p/w") == (
        "postgresql://zs_api_local:p%2Fw@/postgres?host=/data/.zs/postgres"
    )
    assert with_login(tcp, "zs_ingest_local", "x") == (
        "postgresql://zs_ingest_local:x@db.internal:5432/zs?sslmode=verify-full"
    )


def test_a_password_is_created_owner_only_once_and_then_reused(tmp_path: Path) -> None:
    first, created = stored_password(tmp_path / "database", DbRole.RELAY)
    again, created_again = stored_password(tmp_path / "database", DbRole.RELAY)

    assert (created, created_again) == (True, False)
    assert again == first and len(first) >= 32
    path = tmp_path / "database" / "zs_relay_local.password"
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in (tmp_path / "database").iterdir()] == [path.name]  # no drafts left


def test_each_service_has_its_group_login_and_setting() -> None:
    assert all(f"{r.value}_database_url" in Settings.model_fields for r in DbRole)
    assert [(r.group, r.login, r.setting) for r in DbRole] == [
        ("zs_ingest", "zs_ingest_local", "ZS_INGEST_DATABASE_URL"),
        ("zs_relay", "zs_relay_local", "ZS_RELAY_DATABASE_URL"),
        ("zs_projector", "zs_projector_local", "ZS_PROJECTOR_DATABASE_URL"),
        ("zs_api", "zs_api_local", "ZS_API_DATABASE_URL"),
    ]


def test_a_password_literal_doubles_its_quotes() -> None:
    assert literal("it's") == "'it''s'"
