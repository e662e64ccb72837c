#!/usr/bin/env python3
"""Runs a CNI network configuration list as a runtime's libcni does (containerd, Podman):
ADD through the plugins in order, each given the result before it as prevResult; DEL in
reverse and CHECK in order, both with the cached result of the ADD. The portMappings
capability goes, as runtimeConfig, to the plugins that declare it.

Usage: cni.py ADD|CHECK|DEL CONFLIST CONTAINER_ID NETNS IFNAME [PORT_MAPPINGS_JSON]
CNI_PATH (plugin directories) and CNI_CACHE (where results are kept) come from the
environment. A plugin's failure ends the run with its exit code and its output."""
import json
import os
import subprocess
import sys

command, conflist, container, netns, ifname = sys.argv[1:6]
ports = json.loads(sys.argv[6]) if len(sys.argv) > 6 else []
config = json.load(open(conflist))
cache = os.path.join(os.environ["CNI_CACHE"], f"{config['name']}-{container}-{ifname}.json")
paths = os.environ["CNI_PATH"].split(":")


def run(plugin, prev):
    net = dict(plugin, name=config["name"], cniVersion=config["cniVersion"])
    if prev is not None:
        net["prevResult"] = prev
    if plugin.get("capabilities", {}).get("portMappings") and ports:
        net["runtimeConfig"] = {"portMappings": ports}
    executable = next((os.path.join(p, plugin["type"]) for p in paths if os.path.exists(os.path.join(p, plugin["type"]))), None)
    if executable is None:
        sys.exit(f"no plugin {plugin['type']} in CNI_PATH")
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container, CNI_NETNS=netns, CNI_IFNAME=ifname)
    done = subprocess.run([executable], input=json.dumps(net).encode(), env=env, capture_output=True)
    if done.returncode != 0:
        sys.stdout.write(done.stdout.decode())
        sys.stderr.write(done.stderr.decode())
        sys.exit(done.returncode)
    return json.loads(done.stdout) if done.stdout.strip() else None


cached = json.load(open(cache)) if os.path.exists(cache) else None
if command == "ADD":
    result = None
    for plugin in config["plugins"]:
        result = run(plugin, result)
    json.dump(result, open(cache, "w"))
    print(json.dumps(result))
elif command == "CHECK":
    for plugin in config["plugins"]:
        run(plugin, cached)
elif command == "DEL":
    for plugin in reversed(config["plugins"]):
        run(plugin, cached)
    if os.path.exists(cache):
        os.remove(cache)
else:
    sys.exit(f"unknown command {command}")
