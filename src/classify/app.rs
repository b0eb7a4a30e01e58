//! The app catalog: which conferencing app a hostname or a proprietary protocol belongs to.
//!
//! The catalog is data (`data/apps.toml`, embedded in the binary) so that adding an app's domains
//! needs no code. Lookups happen once per flow (when its name or framing becomes known), never
//! per packet.

use std::path::Path;

use serde::Deserialize;

use super::Protocol;

const EMBEDDED_CATALOG: &str = include_str!("../../data/apps.toml");

/// Index of an app in its catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AppId(u16);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub domains: Vec<String>,
    #[serde(default)]
    pub protocols: Vec<String>,
    #[serde(default)]
    pub sources: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogFile {
    app: Vec<App>,
}

#[derive(Debug)]
pub struct AppCatalog {
    apps: Vec<App>,
}

impl AppCatalog {
    /// The catalog shipped inside the binary.
    pub fn embedded() -> Result<AppCatalog, String> {
        AppCatalog::parse(EMBEDDED_CATALOG)
            .map_err(|problem| format!("embedded app catalog: {problem}"))
    }

    /// A catalog file given by the user (replaces the embedded one).
    pub fn from_file(path: &Path) -> Result<AppCatalog, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        AppCatalog::parse(&text).map_err(|problem| format!("{}: {problem}", path.display()))
    }

    fn parse(text: &str) -> Result<AppCatalog, String> {
        let file: CatalogFile = toml::from_str(text).map_err(|e| e.to_string())?;
        if file.app.len() > usize::from(u16::MAX) {
            return Err("too many apps".into());
        }
        let mut apps = file.app;
        for app in &mut apps {
            if app.id.is_empty()
                || !app
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(format!(
                    "app id {:?} must be lowercase letters, digits or '_'",
                    app.id
                ));
            }
            for domain in &mut app.domains {
                *domain = domain.trim_end_matches('.').to_ascii_lowercase();
            }
        }
        Ok(AppCatalog { apps })
    }

    pub fn get(&self, id: AppId) -> Option<&App> {
        self.apps.get(usize::from(id.0))
    }

    /// The app whose domain list covers `hostname` (an exact match or a subdomain). The longest
    /// matching suffix wins, so a more specific entry can refine a general one.
    pub fn match_hostname(&self, hostname: &str) -> Option<AppId> {
        let hostname = hostname.trim_end_matches('.');
        let mut best: Option<(usize, AppId)> = None;
        for (index, app) in self.apps.iter().enumerate() {
            for domain in &app.domains {
                if domain_covers(domain, hostname) && best.is_none_or(|(len, _)| domain.len() > len)
                {
                    best = Some((domain.len(), AppId(index as u16)));
                }
            }
        }
        best.map(|(_, id)| id)
    }

    /// The app identified by a proprietary protocol's framing.
    pub fn match_protocol(&self, protocol: Protocol) -> Option<AppId> {
        let name = protocol.as_str();
        self.apps
            .iter()
            .position(|app| app.protocols.iter().any(|p| p == name))
            .map(|index| AppId(index as u16))
    }
}

/// `zoom.us` covers `zoom.us` and `x.zoom.us`, not `notzoom.us`. Case-insensitive.
fn domain_covers(domain: &str, hostname: &str) -> bool {
    if hostname.len() == domain.len() {
        return hostname.eq_ignore_ascii_case(domain);
    }
    hostname.len() > domain.len()
        && hostname
            .get(hostname.len() - domain.len()..)
            .is_some_and(|tail| tail.eq_ignore_ascii_case(domain))
        && hostname.as_bytes().get(hostname.len() - domain.len() - 1) == Some(&b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_catalog_parses_and_knows_zoom() {
        let catalog = AppCatalog::embedded().unwrap();
        let zoom = catalog.match_hostname("zoomfrn99mmr.zoom.us").unwrap();
        assert_eq!(catalog.get(zoom).unwrap().id, "zoom");
        assert_eq!(catalog.match_hostname("ZOOM.COM."), Some(zoom));
        assert_eq!(catalog.match_hostname("x.zoomgov.com"), Some(zoom));
        assert_eq!(catalog.match_protocol(Protocol::Zoom), Some(zoom));
    }

    #[test]
    fn suffix_matching_respects_label_boundaries() {
        let catalog = AppCatalog::embedded().unwrap();
        assert_eq!(catalog.match_hostname("notzoom.us"), None);
        assert_eq!(catalog.match_hostname("zoom.us.evil.example"), None);
        assert_eq!(catalog.match_hostname("us"), None);
        assert_eq!(catalog.match_hostname(""), None);
        assert_eq!(catalog.match_protocol(Protocol::Stun), None);
    }

    #[test]
    fn rejects_bad_catalogs() {
        assert!(AppCatalog::parse("app = 3").is_err());
        assert!(AppCatalog::parse("[[app]]\nid = \"Zoom!\"\nname = \"Z\"").is_err());
        assert!(AppCatalog::parse("[[app]]\nid = \"z\"\nname = \"Z\"\ncolour = 1").is_err());
    }
}
