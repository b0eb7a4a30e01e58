//! App attribution evidence: what decided a flow's app, how strong that is, and which evidence
//! wins when several disagree.
//!
//! Precedence (strongest first), from docs/app-catalog.md:
//!
//! 1. vendor STUN attributes, STUN REALM/SOFTWARE, and certificate names — things only the
//!    vendor's own servers or clients put on the wire;
//! 2. proprietary framing (Zoom's media encapsulation);
//! 3. names: TLS/QUIC SNI, then a DNS answer, then SDP;
//! 4. labels propagated from another flow of the same capture (a STUN/TURN or SDP address, a
//!    server an attributed flow used, the local UDP socket an attributed flow used);
//! 5. the app's published IP ranges, then its ASNs.
//!
//! A port alone never decides. Stronger evidence replaces weaker; equal evidence keeps the first.

use serde::Serialize;

use super::app::AppId;

/// How a flow's app was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    StunAttribute,
    StunRealm,
    StunSoftware,
    Certificate,
    Framing,
    Sni,
    DnsName,
    Sdp,
    /// The flow talks to an address a STUN/TURN message of an attributed flow announced.
    StunAddress,
    /// The flow's server is one an attributed flow of the same client used.
    SharedServer,
    /// The flow leaves from the same local UDP socket as an attributed flow (ICE gathers,
    /// relays and sends media from one socket).
    SharedSocket,
    IpList,
    Asn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    /// The name reports use (the same as the serde name).
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl EvidenceKind {
    /// Lower is stronger (see the module docs).
    fn rank(self) -> u8 {
        match self {
            EvidenceKind::StunAttribute
            | EvidenceKind::StunRealm
            | EvidenceKind::StunSoftware
            | EvidenceKind::Certificate => 0,
            EvidenceKind::Framing => 1,
            EvidenceKind::Sni => 2,
            EvidenceKind::DnsName => 3,
            EvidenceKind::Sdp => 4,
            EvidenceKind::StunAddress | EvidenceKind::SharedServer | EvidenceKind::SharedSocket => {
                5
            }
            EvidenceKind::IpList => 6,
            EvidenceKind::Asn => 7,
        }
    }

    pub fn confidence(self) -> Confidence {
        match self {
            EvidenceKind::StunAttribute
            | EvidenceKind::StunRealm
            | EvidenceKind::StunSoftware
            | EvidenceKind::Certificate
            | EvidenceKind::Framing
            | EvidenceKind::Sni => Confidence::High,
            EvidenceKind::DnsName
            | EvidenceKind::Sdp
            | EvidenceKind::StunAddress
            | EvidenceKind::SharedServer
            | EvidenceKind::SharedSocket
            | EvidenceKind::IpList => Confidence::Medium,
            EvidenceKind::Asn => Confidence::Low,
        }
    }

    /// True for evidence strong enough to pass a label on to other flows.
    pub fn may_propagate(self) -> bool {
        self.rank() <= EvidenceKind::Sdp.rank()
    }

    fn label(self) -> &'static str {
        match self {
            EvidenceKind::StunAttribute => "stun attribute",
            EvidenceKind::StunRealm => "stun realm",
            EvidenceKind::StunSoftware => "stun software",
            EvidenceKind::Certificate => "cert",
            EvidenceKind::Framing => "framing",
            EvidenceKind::Sni => "sni",
            EvidenceKind::DnsName => "dns",
            EvidenceKind::Sdp => "sdp",
            EvidenceKind::StunAddress => "stun address of flow",
            EvidenceKind::SharedServer => "server of flow",
            EvidenceKind::SharedSocket => "socket of flow",
            EvidenceKind::IpList => "ip list",
            EvidenceKind::Asn => "asn",
        }
    }
}

/// An app attribution with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppMatch {
    pub app: AppId,
    pub kind: EvidenceKind,
    /// What was seen: the SNI, the realm, `CN=hangouts`, `0x0101`, a flow number…
    pub detail: String,
    /// The packet that showed it, when one packet did.
    pub packet: Option<u64>,
}

impl AppMatch {
    /// One line for reports, e.g. `tls sni zoomfrn99mmr.zoom.us`, `zoom framing`,
    /// `ip list zoom 2024-08-02`.
    ///
    /// Every reported flow gets one: joined, not `format!`ted, which cost ten times as much.
    pub fn text(&self, protocol_prefix: &str) -> String {
        let label = self.kind.label();
        let detail = self.detail.as_str();
        match self.kind {
            EvidenceKind::Framing => [detail, label].join(" "),
            EvidenceKind::Sni | EvidenceKind::Certificate if !protocol_prefix.is_empty() => {
                [protocol_prefix, label, detail].join(" ")
            }
            _ => [label, detail].join(" "),
        }
    }
}

/// Whether evidence of `kind` would replace `current`: lets per-packet callers skip building
/// evidence that cannot win.
pub fn would_win(current: Option<&AppMatch>, kind: EvidenceKind) -> bool {
    current.is_none_or(|seen| kind.rank() < seen.kind.rank())
}

/// Offers `candidate` for a flow currently attributed `current`: it wins only when strictly
/// stronger.
pub fn offer(current: &mut Option<AppMatch>, candidate: AppMatch) -> bool {
    let wins = would_win(current.as_ref(), candidate.kind);
    if wins {
        *current = Some(candidate);
    }
    wins
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::app::AppCatalog;

    fn zoom() -> AppId {
        AppCatalog::embedded()
            .unwrap()
            .match_hostname("zoom.us")
            .unwrap()
    }

    fn evidence(kind: EvidenceKind, detail: &str) -> AppMatch {
        AppMatch {
            app: zoom(),
            kind,
            detail: detail.into(),
            packet: Some(1),
        }
    }

    #[test]
    fn stronger_evidence_replaces_weaker_and_ties_keep_the_first() {
        let mut current = None;
        assert!(offer(
            &mut current,
            evidence(EvidenceKind::IpList, "zoom 2024-08-02")
        ));
        assert!(offer(
            &mut current,
            evidence(EvidenceKind::Sni, "a.zoom.us")
        ));
        assert!(!offer(
            &mut current,
            evidence(EvidenceKind::Sni, "b.zoom.us")
        ));
        assert!(!offer(
            &mut current,
            evidence(EvidenceKind::DnsName, "c.zoom.us")
        ));
        assert_eq!(current.as_ref().unwrap().detail, "a.zoom.us");
        assert!(offer(
            &mut current,
            evidence(EvidenceKind::StunAttribute, "0x0101")
        ));
        assert_eq!(current.unwrap().kind, EvidenceKind::StunAttribute);
    }

    #[test]
    fn evidence_reads_as_a_phrase() {
        assert_eq!(
            evidence(EvidenceKind::Sni, "zoomfrn99mmr.zoom.us").text("tls"),
            "tls sni zoomfrn99mmr.zoom.us"
        );
        assert_eq!(
            evidence(EvidenceKind::Framing, "zoom").text(""),
            "zoom framing"
        );
        assert_eq!(
            evidence(EvidenceKind::StunRealm, "signal.org").text(""),
            "stun realm signal.org"
        );
        assert_eq!(
            evidence(EvidenceKind::Certificate, "CN=hangouts").text("dtls"),
            "dtls cert CN=hangouts"
        );
        assert_eq!(
            evidence(EvidenceKind::IpList, "zoom 2024-08-02").text(""),
            "ip list zoom 2024-08-02"
        );
    }

    #[test]
    fn confidence_follows_the_kind() {
        assert_eq!(EvidenceKind::Sni.confidence(), Confidence::High);
        assert_eq!(EvidenceKind::DnsName.confidence(), Confidence::Medium);
        assert_eq!(EvidenceKind::Asn.confidence(), Confidence::Low);
        assert!(EvidenceKind::Sdp.may_propagate());
        assert!(!EvidenceKind::IpList.may_propagate());
        assert!(!EvidenceKind::SharedServer.may_propagate());
    }
}
