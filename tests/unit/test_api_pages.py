"""The API pages work on a closed network: every asset they load is served by the service."""

import re
from pathlib import Path

import httpx
import pytest

from mash_app.services import SERVICE_MODULES, iter_definitions
from mashcore.embedded_bus import EmbeddedBus
from mashcore.service import create_app
from mashcore.settings import Settings


@pytest.mark.parametrize("service", sorted(SERVICE_MODULES))
async def test_the_api_page_loads_only_assets_the_service_serves(service: str,
                                                                  tmp_path: Path) -> None:
    [definition] = iter_definitions([service])
    app = create_app(definition, Settings(data_dir=tmp_path),
                     bus=EmbeddedBus(tmp_path / "bus.sqlite"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://svc") as client:
        page = await client.get("/docs")
        assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
        assert page.status_code == 200 and assets
        assert all(a.startswith("/") for a in assets), assets  # nothing from a CDN
        for asset in assets:
            assert (await client.get(asset)).status_code == 200, asset
        assert (await client.get("/openapi.json")).json()["openapi"].startswith("3.1")
