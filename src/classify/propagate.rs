//! End-of-capture passes over all flows of one capture.
//!
//! **Labels propagate.** A call's flows are related, and the evidence often sits in only one:
//!
//! - an address a STUN/TURN message announced (XOR-PEER-ADDRESS, XOR-RELAYED-ADDRESS) or an SDP
//!   offer/answer announced (`c=`/`m=`) labels the later flow to or from that address — the P2P,
//!   relay or RTP flow — with the announcing flow's app, and, for SDP, its media kind;
//! - a flow to a server address that a strongly attributed flow also used inherits that app
//!   ("server of flow N");
//! - a UDP flow from the same local socket (address and port) as a strongly attributed flow
//!   inherits its app ("socket of flow N"): ICE sends its STUN checks, TURN allocations and
//!   peer-to-peer media from one socket, so the Google STUN server a Signal call asks for its
//!   public address is Signal's flow too. The Princeton Zoom tracker uses the same correlation
//!   for Zoom P2P (facts-zoom §2.6).
//!
//! Only strong evidence is passed on (see [`EvidenceKind::may_propagate`]), and only one step:
//! a propagated label never propagates again.
//!
//! **Server roles** come last, from the flow's own evidence: Zoom names its servers by role
//! (`…zc`, `…mmr`, `…rwg` in the first label); a TURN flow's server is a relay; a flow with
//! media goes to a media server (SFU) or, in a peer-to-peer call, to the other peer; a flow
//! with only handshakes and signaling goes to a control server.

use std::collections::HashMap;

use super::*;

/// A label another flow can take.
#[derive(Clone, Copy)]
struct Announcement {
    flow: usize,
    how: Announced,
}

/// Maps looked up a few times per flow: foldhash rather than SipHash, as for the flow table.
type Map<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// `first_index` is the report index of the capture's flow number 0.
pub(super) fn run(classifier: &Classifier<'_>, flows: &mut [Flow<FlowClass>], first_index: usize) {
    let mut announced: Map<(IpAddr, u16), Announcement> = Map::default();
    let mut attributed_servers: Map<IpAddr, usize> = Map::default();
    let mut attributed_sockets: Map<(IpAddr, u16), usize> = Map::default();
    for (index, flow) in flows.iter().enumerate() {
        for address in &flow.state.announced {
            announced
                .entry((address.ip, address.port))
                .or_insert(Announcement {
                    flow: index,
                    how: address.how,
                });
        }
        if flow
            .state
            .app
            .as_ref()
            .is_some_and(|m| m.kind.may_propagate())
        {
            attributed_servers.entry(flow.server.ip).or_insert(index);
            if flow.transport == Transport::Udp {
                attributed_sockets
                    .entry((flow.client.ip, flow.client.port))
                    .or_insert(index);
            }
        }
    }

    for index in 0..flows.len() {
        let (client, server) = (flows[index].client, flows[index].server);
        let announcement = [server, client]
            .iter()
            .filter_map(|end| announced.get(&(end.ip, end.port)))
            .find(|a| a.flow != index)
            .copied();
        if let Some(announcement) = announcement {
            let source_app = flows[announcement.flow].state.app.clone();
            let source_number = flows[announcement.flow].number;
            let state = &mut flows[index].state;
            state.announced_by = Some(first_index + source_number);
            let kind = match announcement.how {
                Announced::SdpMedia(media) => {
                    if let Some(media) = media {
                        state.media_kinds.insert(media);
                    }
                    EvidenceKind::Sdp
                }
                Announced::StunPeer | Announced::StunRelayed => EvidenceKind::StunAddress,
            };
            if let Some(source) = source_app.filter(|m| m.kind.may_propagate()) {
                let detail = match kind {
                    EvidenceKind::Sdp => {
                        format!("media of flow {}", first_index + announcement.flow)
                    }
                    _ => (first_index + announcement.flow).to_string(),
                };
                classifier.offer(state, source.app, kind, detail, None);
            }
        }
        if flows[index].transport == Transport::Udp {
            if let Some(&source) = attributed_sockets.get(&(client.ip, client.port)) {
                inherit(
                    classifier,
                    flows,
                    index,
                    source,
                    EvidenceKind::SharedSocket,
                    first_index,
                );
            }
        }
        if let Some(&source) = attributed_servers.get(&server.ip) {
            inherit(
                classifier,
                flows,
                index,
                source,
                EvidenceKind::SharedServer,
                first_index,
            );
        }
    }

    for flow in flows.iter_mut() {
        flow.state.server_role = server_role(classifier, flow);
        if let Some(kind) = teams_media_kind(classifier, flow) {
            flow.state.media_kinds.insert(kind);
        }
    }
}

/// Offers flow `index` the app of flow `source`, citing it.
fn inherit(
    classifier: &Classifier<'_>,
    flows: &mut [Flow<FlowClass>],
    index: usize,
    source: usize,
    kind: EvidenceKind,
    first_index: usize,
) {
    if source == index {
        return;
    }
    if let Some(app) = flows[source].state.app.as_ref().map(|m| m.app) {
        let detail = (first_index + flows[source].number).to_string();
        classifier.offer(&mut flows[index].state, app, kind, detail, None);
    }
}

fn server_role(classifier: &Classifier<'_>, flow: &Flow<FlowClass>) -> Option<ServerRole> {
    let state = &flow.state;
    let is_zoom = state
        .app
        .as_ref()
        .is_some_and(|m| classifier.app_id(m.app) == "zoom");
    if is_zoom {
        if let Some(role) = state
            .hostname
            .as_ref()
            .and_then(|(name, _)| zoom_role(name))
        {
            return Some(role);
        }
    }
    if state.turn_seen {
        return Some(ServerRole::Relay);
    }
    if state.roles.count(Role::Media) > 0 {
        let peer_to_peer = state.zoom_p2p
            || state.announced_by.is_some() && both_private(flow)
            || (is_private(flow.client.ip) && is_private(flow.server.ip));
        return Some(if peer_to_peer {
            ServerRole::Peer
        } else {
            ServerRole::Media
        });
    }
    if state.roles.count(Role::KeyExchange) + state.roles.count(Role::Signaling) > 0 {
        return Some(ServerRole::Control);
    }
    None
}

/// Teams clients send each kind of media from its own default source-port range (Microsoft's
/// QoS defaults, facts-apps §Teams): audio 50000–50019, video 50020–50039, screen sharing
/// 50040–50059; Teams' relays also split by port: 3478–3479 audio, 3480 video, 3481 sharing.
fn teams_media_kind(classifier: &Classifier<'_>, flow: &Flow<FlowClass>) -> Option<MediaKind> {
    let state = &flow.state;
    let is_teams = state
        .app
        .as_ref()
        .is_some_and(|m| matches!(classifier.app_id(m.app), "teams" | "skype"));
    if !is_teams || flow.transport != Transport::Udp || state.roles.count(Role::Media) == 0 {
        return None;
    }
    match (flow.client.port, flow.server.port) {
        (50000..=50019, _) | (_, 3478..=3479) => Some(MediaKind::Audio),
        (50020..=50039, _) | (_, 3480) => Some(MediaKind::Video),
        (50040..=50059, _) | (_, 3481) => Some(MediaKind::ScreenShare),
        _ => None,
    }
}

/// Zoom's server names end their first label with the role: `zoomfrn99mmr`, `zoomam104zc`,
/// `zoomfr213244140151rwg` (facts-zoom §3.2).
fn zoom_role(hostname: &str) -> Option<ServerRole> {
    let first_label = hostname.split('.').next()?;
    if !first_label.starts_with("zoom") {
        return None;
    }
    if first_label.ends_with("mmr") {
        Some(ServerRole::Mmr)
    } else if first_label.ends_with("zc") {
        Some(ServerRole::Zc)
    } else if first_label.ends_with("rwg") {
        Some(ServerRole::Rwg)
    } else {
        None
    }
}

fn both_private(flow: &Flow<FlowClass>) -> bool {
    is_private(flow.client.ip) && is_private(flow.server.ip)
}

fn is_private(ip: IpAddr) -> bool {
    crate::flow::is_local_scope(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zoom_roles_come_from_the_first_label() {
        assert_eq!(zoom_role("zoomfrn99mmr.zoom.us"), Some(ServerRole::Mmr));
        assert_eq!(zoom_role("zoomam104zc.zoom.us"), Some(ServerRole::Zc));
        assert_eq!(
            zoom_role("zoomsjccv154mmr.sjc.zoom.us"),
            Some(ServerRole::Mmr)
        );
        assert_eq!(
            zoom_role("zoomfr213244140151rwg.fr.zoom.us"),
            Some(ServerRole::Rwg)
        );
        assert_eq!(zoom_role("www3.zoom.us"), None);
        assert_eq!(zoom_role("zoom.us"), None);
    }
}
