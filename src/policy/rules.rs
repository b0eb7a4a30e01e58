//! The rule catalog. IDs are stable: reports, baselines and CI configurations refer to them.
//!
//! Each rule has the same doc shape — what it flags, why it matters — and that text is what
//! `docs/policy.md` and, later, SARIF `help` show.

use super::Severity;
use crate::classify::Role;

pub struct Rule {
    pub id: &'static str,
    pub title: &'static str,
    pub severity: Severity,
    /// The class of traffic the rule looks at.
    pub role: Role,
    pub explanation: &'static str,
}

pub const RULES: [Rule; 3] = [
    Rule {
        id: "restricted-key-exchange",
        title: "Key exchange with a server in a restricted jurisdiction",
        severity: Severity::Critical,
        role: Role::KeyExchange,
        explanation: "A TLS, DTLS, QUIC or ZRTP handshake ran with a server located in a \
            jurisdiction the policy restricts. Whoever terminates the handshake holds the session \
            keys, and a server-side key holder can be compelled by its jurisdiction to disclose \
            them. In April 2020 Citizen Lab observed Zoom meeting keys delivered over TLS by a \
            server in Beijing (52.81.151.250) to a call between the US and Canada.",
    },
    Rule {
        id: "restricted-media",
        title: "Media through a server in a restricted jurisdiction",
        severity: Severity::High,
        role: Role::Media,
        explanation: "Audio, video or screen-share packets (RTP/RTCP or an app's own media \
            framing) went to or came from a server located in a jurisdiction the policy restricts. \
            Encrypted media still reveals who talks to whom, when and how much, and is readable \
            there if the meeting key is also held there.",
    },
    Rule {
        id: "restricted-signaling",
        title: "Signaling with a server in a restricted jurisdiction",
        severity: Severity::Medium,
        role: Role::Signaling,
        explanation: "Call set-up or control traffic (STUN/TURN, an app's control messages, TLS \
            application data of a conferencing app) was exchanged with a server located in a \
            jurisdiction the policy restricts. Signaling carries meeting metadata — participants, \
            addresses, timing — and often the path on which keys are distributed.",
    },
];

/// The rule with this ID.
pub fn rule(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|rule| rule.id == id)
}
