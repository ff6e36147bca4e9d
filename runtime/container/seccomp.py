"""The default seccomp filter: system calls a container never needs, refused with EPERM.

Docker ships an allowlist; this is a denylist of the calls Docker's profile refuses
to containers without extra capabilities: kernel modules, kexec, mounts and new
namespaces, keyrings, bpf, perf, clock changes, reboot, swap and the like. A
denylist is shorter to audit; the capability set and no-new-privileges do the rest.
"""
from __future__ import annotations

EPERM = 1
ENOSYS = 38
# Namespace flags a container may not use to make new namespaces.
CLONE_NAMESPACES = {"user": 0x10000000, "mount": 0x00020000, "uts": 0x04000000, "ipc": 0x08000000,
                    "pid": 0x20000000, "net": 0x40000000, "cgroup": 0x02000000}

DENIED = (
    # kernel code and the machine itself
    "init_module", "finit_module", "delete_module", "create_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "iopl", "ioperm", "acct", "lookup_dcookie", "quotactl",
    # mounts and namespaces
    "mount", "umount", "umount2", "pivot_root", "unshare", "setns", "fsopen", "fsconfig", "fsmount",
    "fspick", "move_mount", "open_tree", "mount_setattr",
    # keyrings, bpf, perf, userfaultfd, handles to files outside the container
    "add_key", "request_key", "keyctl", "bpf", "perf_event_open", "userfaultfd",
    "open_by_handle_at", "name_to_handle_at",
    # time
    "settimeofday", "clock_settime", "clock_settime64", "adjtimex", "clock_adjtime", "clock_adjtime64",
    "stime",
    # other systems' calls and obsolete ones
    "nfsservctl", "vm86", "vm86old", "uselib", "ustat", "sysfs", "_sysctl", "personality",
    "get_kernel_syms", "query_module", "kcmp", "process_vm_readv", "process_vm_writev",
)


def default_profile() -> dict:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": list(DENIED), "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM},
            # clone with any namespace flag is refused (one rule per flag: rules are ORed);
            # plain clone, as for threads and fork, is not.
            *({"names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": EPERM,
               "args": [{"index": 0, "value": flag, "valueTwo": flag, "op": "SCMP_CMP_MASKED_EQ"}]}
              for flag in CLONE_NAMESPACES.values()),
            # clone3 passes its flags in memory seccomp cannot read: make libc fall back to clone.
            {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": ENOSYS},
        ],
    }
