//! This machine's fingerprint: several components, each hashed on its own with
//! the product as salt ([`licet_verifier::binding::hwid_part`]), so that a token can bind them with a
//! k-of-n rule and no raw value ever leaves the machine or lands in a file.
//!
//! What goes in (see `docs/token-format.md`, "Hardware parts"):
//!
//! | component | value hashed | changes when |
//! |---|---|---|
//! | `machine-id` | `/etc/machine-id` (or `/var/lib/dbus/machine-id`); Linux and BSDs only | the OS is reinstalled |
//! | `cpu` | the first CPU's brand string and the number of CPUs | the CPU is replaced |
//! | `memory` | total memory rounded to whole GiB | memory is added or removed |
//! | `disk` (one per disk) | device name and size of each fixed, non-removable disk | that disk is replaced or resized |
//! | `mac` (one per card) | MAC address of each physical network interface | that card is replaced |
//! | `hostname` | the host name | the machine is renamed |
//!
//! Virtual interfaces (on Linux: those without a device in `/sys/class/net/<name>/device`;
//! elsewhere by name: loopback, `docker*`, `veth*`, `br-*`, `virbr*`, `vmnet*`, `vboxnet*`,
//! `tun*`, `tap*`, `wg*`, `zt*`, `ifb*`, `dummy*`) and all-zero MACs are left out; so are components the
//! platform cannot read. The default threshold is a majority plus one (`n / 2 + 1`): with six
//! components, four must match, so one new disk and a new name are tolerated while another
//! machine (other machine id, MACs, disks and name) is not.

use std::string::{String, ToString};
use std::vec::Vec;

use licet_verifier::binding::hwid_part;
use licet_verifier::claims::{HWID_PART_LEN, MAX_HWID_PARTS};

/// One component of a fingerprint: its kind, a label that identifies it without revealing it
/// (an interface or disk name), and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `machine-id`, `cpu`, `memory`, `disk`, `mac` or `hostname`.
    pub name: &'static str,
    /// What the component is on this machine (`eth0`, `/dev/sda`), for display only.
    pub label: String,
    /// [`hwid_part`] of the component's value under the product.
    pub part: [u8; HWID_PART_LEN],
}

/// A machine's fingerprint for one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    components: Vec<Component>,
}

const VIRTUAL_INTERFACES: &[&str] = &[
    "lo", "docker", "veth", "br-", "virbr", "vmnet", "vboxnet", "tun", "tap", "wg", "zt", "ifb",
    "dummy",
];

impl Fingerprint {
    /// Reads this machine's components and hashes them for `product`.
    pub fn collect(product: &str) -> Fingerprint {
        Fingerprint::from_values(product, &read_components())
    }

    /// A fingerprint of given raw components `(name, label, value)` (tests, or applications
    /// with their own sources). At most 16 are kept, in the order given.
    pub fn from_values(product: &str, values: &[(&'static str, String, Vec<u8>)]) -> Fingerprint {
        let mut components: Vec<Component> = Vec::new();
        for (name, label, value) in values {
            let part = hwid_part(product, name, value);
            if components.len() < MAX_HWID_PARTS && !components.iter().any(|c| c.part == part) {
                components.push(Component {
                    name,
                    label: label.clone(),
                    part,
                });
            }
        }
        Fingerprint { components }
    }

    /// The components.
    pub fn components(&self) -> &[Component] {
        &self.components
    }

    /// The parts, for [`licet_verifier::Context::hwid_parts`] and for activation requests.
    pub fn parts(&self) -> Vec<[u8; HWID_PART_LEN]> {
        self.components.iter().map(|c| c.part).collect()
    }

    /// How many parts a token should require: a majority plus one, at most all.
    pub fn default_threshold(&self) -> usize {
        (self.components.len() / 2 + 1).min(self.components.len())
    }

    /// The fingerprint's most stable component, as hex: the machine id's part, else the CPU's
    /// and memory's, else [`Fingerprint::id`]. Local state is keyed from it, so that replacing
    /// a disk or a network card keeps a machine's cached license.
    pub fn stable_id(&self) -> String {
        let pick = |name: &str| {
            self.components
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.part)
        };
        match (pick("machine-id"), pick("cpu"), pick("memory")) {
            (Some(m), _, _) => hex(&m),
            (None, Some(c), Some(m)) => std::format!("{}{}", hex(&c), hex(&m)),
            _ => self.id(),
        }
    }

    /// One stable identifier for the machine (for APIs that take a single fingerprint
    /// string): hex SHA-256 over the sorted parts. Unlike the parts, it changes with any
    /// component.
    pub fn id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut parts = self.parts();
        parts.sort_unstable();
        let mut h = Sha256::new();
        h.update(b"licet/fingerprint-id/v1\0");
        for p in &parts {
            h.update(p);
        }
        hex(&h.finalize())
    }
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        s.push(char::from(DIGITS[usize::from(x >> 4)]));
        s.push(char::from(DIGITS[usize::from(x & 15)]));
    }
    s
}

/// Whether a network interface is a physical card: on Linux, one with a device behind it in
/// sysfs; elsewhere, one whose name is not a known virtual kind.
fn is_physical(name: &str) -> bool {
    let sys = std::path::Path::new("/sys/class/net");
    if sys.is_dir() {
        return sys.join(name).join("device").exists();
    }
    !VIRTUAL_INTERFACES.iter().any(|v| name.starts_with(v))
}

/// The raw components of this machine, `(name, label, value)`, hashed at once by the caller.
fn read_components() -> Vec<(&'static str, String, Vec<u8>)> {
    use sysinfo::{Disks, Networks, System};
    let mut out: Vec<(&'static str, String, Vec<u8>)> = Vec::new();
    for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
        if let Ok(id) = std::fs::read_to_string(path) {
            let id = id.trim();
            if !id.is_empty() {
                out.push(("machine-id", path.to_string(), id.as_bytes().to_vec()));
                break;
            }
        }
    }
    let mut sys = System::new();
    sys.refresh_cpu_list(sysinfo::CpuRefreshKind::nothing());
    sys.refresh_memory();
    if let Some(cpu) = sys.cpus().first() {
        let v = std::format!("{}|{}", cpu.brand().trim(), sys.cpus().len());
        out.push(("cpu", cpu.brand().trim().to_string(), v.into_bytes()));
    }
    let gib = (sys.total_memory() + (1 << 29)) >> 30;
    if gib > 0 {
        out.push((
            "memory",
            std::format!("{gib} GiB"),
            std::format!("{gib}").into_bytes(),
        ));
    }
    let disks = Disks::new_with_refreshed_list();
    let mut seen: Vec<String> = Vec::new();
    for d in disks.list() {
        let name = d.name().to_string_lossy().to_string();
        if d.is_removable() || d.total_space() == 0 || name.is_empty() || seen.contains(&name) {
            continue;
        }
        seen.push(name.clone());
        let v = std::format!("{name}|{}", d.total_space());
        out.push(("disk", name, v.into_bytes()));
    }
    let networks = Networks::new_with_refreshed_list();
    let mut macs: Vec<(String, [u8; 6])> = networks
        .list()
        .iter()
        .filter(|(name, _)| is_physical(name))
        .map(|(name, data)| (name.clone(), data.mac_address().0))
        .filter(|(_, mac)| *mac != [0; 6])
        .collect();
    macs.sort();
    for (name, mac) in macs {
        out.push(("mac", name, mac.to_vec()));
    }
    if let Some(host) = System::host_name() {
        out.push((
            "hostname",
            host.clone(),
            host.to_ascii_lowercase().into_bytes(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use licet_verifier::claims::HwidParts;
    use std::vec;

    fn machine(changes: &[&str]) -> Vec<(&'static str, String, Vec<u8>)> {
        let v = |name: &'static str, value: &str| {
            let value = if changes.contains(&name) {
                std::format!("{value}-changed")
            } else {
                value.to_string()
            };
            (name, name.to_string(), value.into_bytes())
        };
        vec![
            v("machine-id", "4c4c4544-0042"),
            v("cpu", "AMD EPYC 7B13|2"),
            v("memory", "8"),
            v("disk", "/dev/sda|107374182400"),
            v("mac", "02:42:ac:11:00:02"),
            v("hostname", "build-7"),
        ]
    }

    #[test]
    fn one_changed_component_is_tolerated_and_another_machine_is_not() {
        let product = "acme-pro";
        let original = Fingerprint::from_values(product, &machine(&[]));
        assert_eq!(original.default_threshold(), 4);
        let bound = HwidParts::new(original.default_threshold(), &original.parts()).expect("parts");
        let new_disk = Fingerprint::from_values(product, &machine(&["disk"]));
        assert!(bound.accepts(&new_disk.parts()));
        let renamed_too = Fingerprint::from_values(product, &machine(&["disk", "hostname"]));
        assert!(bound.accepts(&renamed_too.parts()), "two of six may change");
        let third = Fingerprint::from_values(product, &machine(&["disk", "hostname", "mac"]));
        assert!(!bound.accepts(&third.parts()), "three of six may not");
        let other = Fingerprint::from_values(
            product,
            &machine(&["machine-id", "disk", "mac", "hostname"]),
        );
        assert!(!bound.accepts(&other.parts()));
        assert_ne!(
            original.id(),
            new_disk.id(),
            "the single id changes with any component"
        );
    }

    #[test]
    fn products_cannot_correlate_a_machine() {
        let a = Fingerprint::from_values("vendor-a", &machine(&[]));
        let b = Fingerprint::from_values("vendor-b", &machine(&[]));
        assert!(a.parts().iter().all(|p| !b.parts().contains(p)));
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn this_machine_has_a_fingerprint() {
        let f = Fingerprint::collect("acme-pro");
        assert!(!f.components().is_empty());
        assert_eq!(f, Fingerprint::collect("acme-pro"), "stable between reads");
        assert!(f.components().iter().all(|c| c.part != [0; HWID_PART_LEN]));
    }
}
