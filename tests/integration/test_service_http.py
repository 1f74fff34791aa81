"""`serve` as a real process: its port taken means exit 2 with one line; its pages need authentication."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.auth.tokens import new_secret
from agent.auth.users import add_user
from agent.config import load_config
from agent.runtime.service import AgentService
from agent.storage import db, store
from tests.integration.test_service import Service, free_port, wait_for, write_config


def status_of(port: int, path: str, headers: dict[str, str] | None = None) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def test_serve_exits_2_with_one_line_when_its_port_is_taken(
    tmp_path: Path, database_url: str, services: list[Service]
) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = Service(write_config(tmp_path, database_url, port), port)
        services.append(service)
        assert service.process.wait(timeout=60) == 2
    output = service.output()
    assert f"error: cannot listen on 127.0.0.1:{port}: address already in use" in output
    assert "Traceback" not in output and "service.started" not in output


def test_served_pages_need_a_token_in_the_header(tmp_path: Path, database_url: str, services: list[Service]) -> None:
    port = free_port()
    token = new_secret()
    config = write_config(tmp_path, database_url, port)
    text = config.read_text().replace("service:\n", "service:\n  api_tokens:\n    prometheus: ${PROM_TOKEN}\n", 1)
    config.write_text(text)
    service = Service(config, port, env={"PROM_TOKEN": token})
    services.append(service)
    wait_for(lambda: status_of(port, "/healthz") == 200, 30, "/healthz")
    assert status_of(port, "/dashboard") == 401
    assert status_of(port, "/metrics") == 401
    assert status_of(port, f"/metrics?token={token}") == 400
    assert status_of(port, "/metrics", {"Authorization": f"Bearer {token}"}) == 200
    with socket.create_connection(("127.0.0.1", port), timeout=10) as client:  # 10 MB announced, 1 KB sent
        client.sendall(b"POST /slack/interactions HTTP/1.1\r\nHost: x\r\nContent-Length: 10485760\r\n\r\n"
                       + b"a" * 1024)
        answer = client.recv(200)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert service.stop() == 0
    assert token not in service.output()


def test_serve_refuses_to_start_with_users_but_no_session_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database_url = f"sqlite:///{tmp_path / 'agent.db'}"
    config_path = write_config(tmp_path, database_url, free_port())
    config = load_config(config_path)
    engine = store.make_engine(database_url)
    try:
        db.upgrade(engine)
        add_user(engine, "alice@example.com", "a long enough passphrase", "viewer", [], datetime.now(UTC))
    finally:
        engine.dispose()
    assert AgentService(config, config_path).run() == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: users exist") and "service.session_secret is not set" in line
