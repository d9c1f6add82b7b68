"""The host page against `docker version` and `docker info` of the same daemon (issue 12).

unix-2 runs with a registry mirror and insecure registries of its own (tests/conftest.py);
tls-1 is reached by the CLI with --tlsverify, like the console."""

import pytest

from console import cli
from tests.parity import DockerCli, agree, definitions, html_tree

DAEMONS = pytest.mark.parametrize("daemon", ["unix-1", "unix-2", "tls-1"])


def host_page(client, daemon):
    return definitions(html_tree(client.get(f"/hosts/{daemon}/")))


def codes(dd):
    return [c.text() for c in dd.find_all("code")]


@DAEMONS
def test_version(admin_client, hosts, docker_env, tmp_path, daemon):
    docker = DockerCli(docker_env, daemon, tmp_path)

    def differences(page, version):
        server = version["Server"]
        engine = next(c for c in server["Components"] if c["Name"] == "Engine")["Details"]
        expected = {
            "Version": server["Version"],
            "API version": f"{server['ApiVersion']} (minimum {server['MinAPIVersion']})",
            "Go": server["GoVersion"],
            "Git commit": server["GitCommit"],
            "Built": server["BuildTime"],
            "Experimental": "yes" if engine["Experimental"] == "true" else "no",
            "Kernel": server["KernelVersion"],
        }
        if server["Platform"]["Name"]:
            expected["Platform"] = server["Platform"]["Name"]
        for c in server["Components"]:
            if c["Name"] != "Engine":
                commit = c["Details"].get("GitCommit")
                expected[c["Name"]] = c["Version"] + (f" ({commit})" if commit else "")
        found = [(k, page[k].words() if k in page else None, v) for k, v in expected.items()]
        os_arch = page["OS / arch"].words().split(" ")[0]
        return [f for f in found if f[1] != f[2]] + (
            [] if os_arch == f"{server['Os']}/{server['Arch']}" else [("OS / arch", os_arch)]
        )

    agree(lambda: docker.json("version"), lambda: host_page(admin_client, daemon), differences)


@DAEMONS
def test_info(admin_client, hosts, docker_env, tmp_path, daemon):
    docker = DockerCli(docker_env, daemon, tmp_path)

    def differences(page, info):
        registries = info["RegistryConfig"]
        insecure = [n for n, i in registries["IndexConfigs"].items() if not i["Secure"]]
        plugins = [f"{kind}: {' '.join(names)}" for kind, names in info["Plugins"].items() if names]
        expected = {
            "Containers": (
                f"{info['Containers']} ({info['ContainersRunning']} running, "
                f"{info['ContainersPaused']} paused, {info['ContainersStopped']} stopped)"
            ),
            "Images": str(info["Images"]),
            "Storage driver": info["Driver"],
            **{k: v for k, v in info["DriverStatus"]},
            "Logging driver": info["LoggingDriver"],
            "Cgroup driver": f"{info['CgroupDriver']} (v{info['CgroupVersion']})",
            "Runtimes": f"{', '.join(sorted(info['Runtimes']))} (default {info['DefaultRuntime']})",
            "Init binary": info["InitBinary"],
            "Plugins": " ".join(plugins),
            "Security options": " ".join(info["SecurityOptions"]),
            "Name": info["Name"],
            "Operating system": info["OperatingSystem"],
            "Kernel": info["KernelVersion"],
            "Docker root": info["DockerRootDir"],
            "Swarm": info["Swarm"]["LocalNodeState"],
            "ID": info["ID"],
            "Labels": " ".join(info["Labels"]) or "none",
            "Debug mode": "yes" if info["Debug"] else "no",
            "Live restore": "yes" if info["LiveRestoreEnabled"] else "no",
            "CPUs": str(info["NCPU"]),
            "Memory": cli.memory(info["MemTotal"]),  # the CLI's "Total Memory: 23.54GiB"
            "Index server": info["IndexServerAddress"],
            "Registry mirrors": " ".join(registries["Mirrors"]) or "none",
            "Insecure registries": " ".join(insecure + registries["InsecureRegistryCIDRs"]),
        }
        found = [(k, page[k].words() if k in page else None, v) for k, v in expected.items()]
        os_arch = page["OS / arch"].words().partition(" ")[2]
        found.append(("OS / arch", os_arch, f"({info['OSType']}, {info['Architecture']})"))
        containerd, runc = page["containerd"].words(), page["runc"].words()
        found.append(("containerd", containerd.endswith(f"({info['ContainerdCommit']['ID']})"), True))
        found.append(("runc", runc.endswith(f"({info['RuncCommit']['ID']})"), True))
        return [f for f in found if f[1] != f[2]]

    def read_page():
        response = admin_client.get(f"/hosts/{daemon}/")
        tree = html_tree(response)
        warnings = [p.words() for p in tree.find_all("p", class_="muted")]
        return {**definitions(tree), "_warnings": warnings}

    page, info = agree(lambda: docker.json("info"), read_page, differences)
    assert all(w in page["_warnings"] for w in info["Warnings"] or ())
    if daemon == "unix-2":  # the daemon with a mirror and insecure registries configured
        assert info["RegistryConfig"]["Mirrors"] == ["http://127.0.0.1:1/"]
        assert "registry.wharf.test:5000" in page["Insecure registries"].words()
    assert codes(page["Registry mirrors"]) == info["RegistryConfig"]["Mirrors"]
