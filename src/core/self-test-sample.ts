// The sample that `install` runs the installed hook on (its self-test, and the startup
// recorder's call), and the environment libvirt gives a hook: shared by the CLI and src/host.
export const SELF_TEST_DOMAIN = "nwfilter-hook-self-test";

/** What libvirt gives a hook: LC_ALL=C and a fixed PATH (plus HOME, USER, LOGNAME, TMPDIR). */
export const HOOK_ENV = { LC_ALL: "C", PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };

export const SAMPLE_DOMAIN = `<domain type='kvm'>
  <name>${SELF_TEST_DOMAIN}</name>
  <memory unit='KiB'>32768</memory>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
  </os>
  <devices>
    <interface type='ethernet'>
      <mac address='52:54:00:4e:57:46'/>
      <target dev='nwfh-selftest'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
`;
