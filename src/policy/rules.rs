//! The rule catalog. IDs are stable: reports, allow-lists, baselines and CI configurations refer
//! to them.
//!
//! Every rule has the same documentation shape — what it detects, why it matters, an example,
//! references — and that text is what `callaudit explain` prints, what docs/rules.md shows, and
//! what later report formats use as help.

use super::Severity;
use crate::classify::Role;

/// What a rule looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The server's location is restricted (for this class of traffic).
    LocatedIn(Role),
    /// The server's operator (its AS's registration) is restricted, its location is not.
    OperatedFrom(Role),
    /// The server is outside the policy's home region.
    CrossBorder(Role),
    /// SRTP keys readable on the wire: SDES `a=crypto` in SIP without TLS.
    KeysInClear,
    /// A deprecated protocol version or an SRTP profile without encryption.
    WeakKeyExchange,
    /// The round trip is too short for the claimed location.
    ImplausibleLocation,
    /// Key exchange or media with a server whose location no database knows.
    UnknownLocation,
}

pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    pub check: Check,
    pub detects: &'static str,
    pub why: &'static str,
    pub example: &'static str,
    pub references: &'static str,
}

pub const RULES: [Rule; 12] = [
    Rule {
        id: "restricted-key-exchange",
        title: "Key exchange with a server located in a restricted jurisdiction",
        severity: Severity::Critical,
        check: Check::LocatedIn(Role::KeyExchange),
        detects:
            "A TLS, DTLS, QUIC or ZRTP handshake, or SIP carrying SRTP keys, with a server the \
            location database places in a jurisdiction the policy restricts.",
        why: "Whoever terminates the handshake holds the session keys, and a key holder can be \
            compelled by the jurisdiction it sits in to disclose them.",
        example: "In April 2020 Citizen Lab saw a Zoom call between the US and Canada receive its \
            meeting key over TLS from 52.81.151.250, a server in Beijing \
            (fixtures/citizenlab-zoom-2020.pcap reproduces it).",
        references:
            "Citizen Lab, \"Move Fast and Roll Your Own Crypto\", 3 April 2020; PRC National \
            Intelligence Law (2017) art. 7.",
    },
    Rule {
        id: "restricted-operator-key-exchange",
        title: "Key exchange with a server operated from a restricted jurisdiction",
        severity: Severity::Critical,
        check: Check::OperatedFrom(Role::KeyExchange),
        detects: "A handshake with a server located outside the restricted jurisdictions whose \
            network (its autonomous system) is registered in a restricted one.",
        why: "Legal obligations follow the operator, not the rack: a company registered in a \
            jurisdiction can be compelled to disclose keys held by its servers abroad. Citizen \
            Lab's concern was exactly this: a server's operator 'may be legally obligated to \
            disclose these keys to authorities in China'.",
        example:
            "A TLS handshake with an address in Frankfurt announced by a Chinese carrier's AS.",
        references:
            "Citizen Lab, Zoom FAQ, April 2020; US CLOUD Act (2018) for the same reasoning \
            applied to US operators.",
    },
    Rule {
        id: "restricted-media",
        title: "Media through a server located in a restricted jurisdiction",
        severity: Severity::High,
        check: Check::LocatedIn(Role::Media),
        detects:
            "Audio, video or screen-share packets (RTP/RTCP, an app's own media framing) to or \
            from a server located in a restricted jurisdiction.",
        why:
            "Encrypted media still shows who talks to whom, when and how much, and it is readable \
            there if the meeting key is also held there.",
        example: "Zoom UDP media to an MMR in a restricted country.",
        references: "Citizen Lab, April 2020 (Zoom routed calls through China).",
    },
    Rule {
        id: "restricted-operator-media",
        title: "Media through a server operated from a restricted jurisdiction",
        severity: Severity::High,
        check: Check::OperatedFrom(Role::Media),
        detects: "Media with a server located elsewhere whose AS is registered in a restricted \
            jurisdiction.",
        why: "The operator can be compelled to capture or hand over the stream wherever the \
            server stands.",
        example: "RTP relayed through a TURN server of a restricted country's cloud provider in \
            Singapore.",
        references: "See restricted-operator-key-exchange.",
    },
    Rule {
        id: "restricted-signaling",
        title: "Signaling with a server located in a restricted jurisdiction",
        severity: Severity::Medium,
        check: Check::LocatedIn(Role::Signaling),
        detects: "Call set-up or control (STUN/TURN, SIP, an app's control messages, TLS \
            application data of a conferencing app) with a server located in a restricted \
            jurisdiction.",
        why: "Signaling carries meeting metadata — participants, addresses, timing — and is often \
            the path on which keys are distributed.",
        example: "The TLS application data that delivered the key in the Citizen Lab case.",
        references: "Citizen Lab, April 2020.",
    },
    Rule {
        id: "restricted-operator-signaling",
        title: "Signaling with a server operated from a restricted jurisdiction",
        severity: Severity::Medium,
        check: Check::OperatedFrom(Role::Signaling),
        detects:
            "Signaling with a server located elsewhere whose AS is registered in a restricted \
            jurisdiction.",
        why: "As for media and keys: the operator answers to its own jurisdiction.",
        example: "STUN binding requests to a relay announced by a restricted country's carrier.",
        references: "See restricted-operator-key-exchange.",
    },
    Rule {
        id: "cross-border-key-exchange",
        title: "Key exchange leaving the home region",
        severity: Severity::High,
        check: Check::CrossBorder(Role::KeyExchange),
        detects: "A handshake with a server located outside the policy's `home` countries.",
        why:
            "Data-residency commitments (\"data originating in the US stays in the US\") cover the \
            keys that protect the data.",
        example: "With home = [\"US\"], a TLS handshake with a Zoom zone controller in Amsterdam.",
        references: "Zoom data-center region selection (support KB0060026); GDPR chapter V.",
    },
    Rule {
        id: "cross-border-media",
        title: "Media leaving the home region",
        severity: Severity::High,
        check: Check::CrossBorder(Role::Media),
        detects: "Media with a server located outside the policy's `home` countries.",
        why: "The call's content crosses the border the policy draws, even when encrypted.",
        example: "With home = [\"US\"], Zoom media to 109.94.160.99 in the Netherlands \
            (nDPI's zoom.pcap).",
        references:
            "Zoom's 2020 statement that calls made in North America remain in North America.",
    },
    Rule {
        id: "keys-in-clear",
        title: "SRTP keys sent in clear",
        severity: Severity::Critical,
        check: Check::KeysInClear,
        detects: "A SIP message without TLS whose SDP carries SDES keys (`a=crypto`) or a MIKEY \
            message (`a=key-mgmt`).",
        why:
            "SDES puts the SRTP master key in the SDP; over plain SIP anyone on the path — in any \
            jurisdiction — can read it and decrypt the call.",
        example: "fixtures/sip-sdes-call.pcap: an INVITE over UDP 5060 with \
            `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:…`.",
        references: "RFC 4568 §8.3 (SDES must only be used over a secure signaling channel).",
    },
    Rule {
        id: "weak-key-exchange",
        title: "Weak key exchange",
        severity: Severity::High,
        check: Check::WeakKeyExchange,
        detects: "SSL 3.0, TLS 1.0 or 1.1, DTLS 1.0, or a DTLS-SRTP profile without encryption \
            (SRTP_NULL_*).",
        why:
            "These versions are deprecated for known weaknesses, and a NULL SRTP profile sends the \
            media unencrypted.",
        example: "A DTLS 1.0 handshake selecting SRTP_NULL_HMAC_SHA1_80.",
        references: "RFC 8996 (deprecating TLS 1.0 and 1.1); RFC 5764 §4.1.2 (NULL profiles).",
    },
    Rule {
        id: "implausible-location",
        title: "Location physically implausible",
        severity: Severity::Medium,
        check: Check::ImplausibleLocation,
        detects: "A server whose measured round trip (TCP SYN → SYN/ACK, STUN request → response, \
            DTLS/QUIC request → reply) is too short for light in fibre (~200 km per ms one way) \
            to reach the nearest point of its claimed location from the policy's vantage point.",
        why: "A GeoIP country is a claim by a database; when physics rules it out, every \
            jurisdiction finding on that server rests on a wrong location.",
        example: "A 2 ms handshake from Germany to a server the database places in Australia.",
        references: "Katz-Bassett et al., \"Towards IP Geolocation Using Delay and Topology \
            Measurements\", IMC 2006.",
    },
    Rule {
        id: "unknown-location",
        title: "Key exchange or media with a server of unknown location",
        severity: Severity::Low,
        check: Check::UnknownLocation,
        detects: "Key exchange or media with a public server no location database can place.",
        why: "An auditor cannot say the policy holds for a server nobody can locate.",
        example: "A handshake with an address outside every database's ranges.",
        references: "data/geoip/README.md (coverage of the embedded data).",
    },
];

/// The rule with this ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}

impl Rule {
    /// The documentation as `callaudit explain` prints it.
    pub fn explain(&self) -> String {
        format!(
            "{id} ({severity}): {title}\n\nWhat it detects: {detects}\n\nWhy it matters: {why}\n\n\
             Example: {example}\n\nReferences: {references}\n",
            id = self.id,
            severity = self.severity,
            title = self.title,
            detects = squeeze(self.detects),
            why = squeeze(self.why),
            example = squeeze(self.example),
            references = squeeze(self.references),
        )
    }
}

/// Collapses the runs of spaces that line continuations leave in the texts above.
pub(crate) fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_lookups_work() {
        let mut ids: Vec<&str> = RULES.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), RULES.len());
        assert_eq!(rule("keys-in-clear").unwrap().severity, Severity::Critical);
        assert!(rule("nope").is_none());
    }

    #[test]
    fn every_rule_is_documented() {
        for rule in &RULES {
            let text = rule.explain();
            for part in [
                "What it detects:",
                "Why it matters:",
                "Example:",
                "References:",
            ] {
                assert!(text.contains(part), "{}", rule.id);
            }
            assert!(!text.contains("  "), "{}: unsqueezed text", rule.id);
        }
    }
}
