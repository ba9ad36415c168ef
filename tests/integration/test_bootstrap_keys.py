"""Keys from the environment (``VIDGEN_API_KEYS``, ``VIDGEN_ADMIN_KEYS``), as each start stores
them: the list a secret is in gives its role, and a revoked one stays revoked."""

from __future__ import annotations

from pathlib import Path

from vidgen.store.db import Database
from vidgen.store.keys import KeyStore


async def test_a_secret_moved_between_the_lists_changes_role_and_a_revoked_one_stays_so(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'k.db'}")
    await db.migrate()
    keys = KeyStore(db)
    try:
        client = await keys.ensure("vg_env_secret", name="env-1", source="env")
        assert client.role == "client"
        assert (await keys.authenticate("vg_env_secret")).role == "client"  # type: ignore[union-attr]
        admin = await keys.ensure("vg_env_secret", name="env-admin-1", source="env", role="admin")
        assert (admin.id, admin.role) == (client.id, "admin")
        # The answer cached a moment ago is not kept past the change.
        assert (await keys.authenticate("vg_env_secret")).role == "admin"  # type: ignore[union-attr]
        await keys.revoke(admin.id)
        again = await keys.ensure("vg_env_secret", name="env-admin-1", source="env", role="admin")
        assert not again.active
        assert await keys.authenticate("vg_env_secret") is None
    finally:
        await db.dispose()
