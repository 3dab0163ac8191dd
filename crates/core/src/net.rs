//! Which IP addresses are public: one classification for every place that must not send, or
//! ask a platform to fetch, to a private network (webhook destinations, TikTok `PULL_FROM_URL`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is not public, or `None` for a public unicast address: what webhooks refuse
/// by default (SSRF) and what TikTok cannot pull media from. Not public: unspecified, loopback,
/// private (RFC 1918), shared/CGNAT (100.64.0.0/10), link-local (169.254.0.0/16 — cloud metadata — and fe80::/10), IETF protocol assignments
/// (192.0.0.0/24), documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32,
/// 3fff::/20), benchmarking (198.18.0.0/15), multicast, reserved (240.0.0.0/4, broadcast),
/// unique-local fc00::/7, site-local fec0::/10, discard-only 100::/64, IPv4-mapped
/// `::ffff:0:0/96` and IPv4-translated `::ffff:0:0:0/96` always (named by the embedded
/// address's class when that is not public; no resolver answers them for a real destination,
/// and a socket given one reaches the embedded IPv4 address), and IPv6 forms embedding an IPv4 address (`::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) by the embedded address's class; local-use NAT64 `64:ff9b:1::/48` always.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        _ if ip.is_unspecified() || a == 0 => "unspecified (0.0.0.0/8)",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private network (RFC 1918)",
        (100, 64..=127, _) => "shared address space (CGNAT, 100.64.0.0/10)",
        _ if ip.is_link_local() => "link-local (169.254.0.0/16, cloud metadata)",
        (192, 0, 0) => "IETF protocol assignment (192.0.0.0/24)",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "documentation range",
        (198, 18..=19, _) => "benchmarking (198.18.0.0/15)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved (240.0.0.0/4)",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    // IPv4-mapped ::ffff:a.b.c.d and IPv4-translated ::ffff:0:a.b.c.d: the embedded address's
    // class when it is not public, and refused anyway when it is.
    if let [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0, 0, 0, 0, 0xffff, 0, hi, lo] = s {
        let v4 = Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8);
        return non_public_v4(v4).or(Some(if s[5] == 0xffff {
            "IPv4-mapped (::ffff:0:0/96)"
        } else {
            "IPv4-translated (::ffff:0:0:0/96)"
        }));
    }
    let embedded = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    Some(match s {
        _ if ip.is_unspecified() => "unspecified (::)",
        _ if ip.is_loopback() => "loopback (::1)",
        // IPv4-compatible ::a.b.c.d (deprecated) and NAT64 64:ff9b::a.b.c.d: as the IPv4 address.
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => {
            return non_public_v4(embedded())
        }
        // 6to4: 2002:AABB:CCDD::/48 carries a.b.c.d in segments 1 and 2.
        [0x2002, hi, lo, ..] => {
            return non_public_v4(Ipv4Addr::new(
                (hi >> 8) as u8,
                hi as u8,
                (lo >> 8) as u8,
                lo as u8,
            ))
        }
        [0x64, 0xff9b, 1, ..] => "local-use NAT64 (64:ff9b:1::/48)",
        [0x100, 0, 0, 0, ..] => "discard-only (100::/64)",
        [x, ..] if x & 0xfe00 == 0xfc00 => "unique local (fc00::/7)",
        [x, ..] if x & 0xffc0 == 0xfe80 => "link-local (fe80::/10)",
        [x, ..] if x & 0xffc0 == 0xfec0 => "site-local (fec0::/10)",
        [x, ..] if x & 0xff00 == 0xff00 => "multicast (ff00::/8)",
        [0x2001, 0xdb8, ..] => "documentation (2001:db8::/32)",
        [x, ..] if x & 0xfff0 == 0x3ff0 => "documentation (3fff::/20)",
        _ => return None,
    })
}
