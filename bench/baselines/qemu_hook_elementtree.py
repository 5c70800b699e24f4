#!/usr/bin/python3
"""A libvirt qemu hook as a user might write it with Python's standard library alone.

It is the baseline `npm run bench` compares nwfilter-hook against (see bench/run.mjs), so it is
deliberately small and honest rather than complete: no policy file, no exemptions, no checks of
networks or bridges, and ElementTree re-serialises the whole domain (quotes, empty elements and
namespace prefixes come out differently from the input).

    /etc/libvirt/hooks/qemu DOMAIN OP SUBOP EXTRA   (domain XML on stdin)

- prepare begin: refuse the start (exit 1) when a bridge/network/ethernet NIC lacks the filter;
- migrate begin, restore begin: add the filterref to every such NIC lacking one, print the XML;
- anything else: exit 0 without reading stdin.
"""
import sys
import xml.etree.ElementTree as ET

FILTER = "vdsm-no-mac-spoofing"
FILTERABLE = ("bridge", "network", "ethernet")


def filterable_nics(root):
    devices = root.find("devices")
    if devices is None:
        return []
    return [nic for nic in devices.findall("interface")
            if nic.get("type") in FILTERABLE and nic.find("virtualport") is None]


def main(argv):
    if len(argv) < 4 or argv[3] != "begin" or argv[2] not in ("prepare", "migrate", "restore"):
        return 0
    domain, op = argv[1], argv[2]
    root = ET.fromstring(sys.stdin.buffer.read())
    nics = filterable_nics(root)

    if op == "prepare":
        missing = [nic for nic in nics if nic.find("filterref") is None]
        for nic in missing:
            mac = nic.find("mac")
            sys.stderr.write("%s: interface %s (type %s) has no filterref to %s\n" % (
                domain, mac.get("address") if mac is not None else "?", nic.get("type"), FILTER))
        return 1 if missing else 0

    for nic in nics:
        if nic.find("filterref") is None:
            ET.SubElement(nic, "filterref", {"filter": FILTER})
    sys.stdout.write(ET.tostring(root, encoding="unicode"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
