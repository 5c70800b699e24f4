// Small domain and interface XML for the CLI tests, written the way libvirt formats them.

export function bridgeNic(mac: string, options: { bridge?: string; filter?: string; indent?: string } = {}): string {
  const i = options.indent ?? "    ";
  const lines = [
    `${i}<interface type='bridge'>`,
    `${i}  <mac address='${mac}'/>`,
    `${i}  <source bridge='${options.bridge ?? "br0"}'/>`,
    `${i}  <model type='virtio'/>`,
  ];
  if (options.filter) lines.push(`${i}  <filterref filter='${options.filter}'/>`);
  lines.push(`${i}</interface>`);
  return lines.join("\n");
}

export function userNic(mac: string): string {
  return `    <interface type='user'>\n      <mac address='${mac}'/>\n      <model type='virtio'/>\n    </interface>`;
}

/** A persistent definition; with `live`, the running form (target dev and alias added). */
export function domainXml(name: string, nics: string[], options: { live?: boolean; metadata?: string } = {}): string {
  const body = options.live
    ? nics.map((n, k) =>
        n.replace(/(\s*)<model /, `$1<target dev='vnet${k}'/>$1<model `).replace(/(\s*)<\/interface>/, `$1  <alias name='net${k}'/>$1</interface>`),
      )
    : nics;
  return [
    `<domain type='kvm'${options.live ? ` id='${7}'` : ""}>`,
    `  <name>${name}</name>`,
    `  <uuid>6f1c2b8e-0000-4000-8000-${name
      .padEnd(12, "0")
      .slice(0, 12)
      .replace(/[^0-9a-f]/g, "0")}</uuid>`,
    ...(options.metadata ? [`  <metadata>`, `    ${options.metadata}`, `  </metadata>`] : []),
    `  <memory unit='KiB'>32768</memory>`,
    `  <os>`,
    `    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>`,
    `  </os>`,
    `  <devices>`,
    ...body,
    `  </devices>`,
    `</domain>`,
    ``,
  ].join("\n");
}
