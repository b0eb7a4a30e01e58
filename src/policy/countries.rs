//! Country codes and named groups of countries, usable anywhere a policy names a country.
//!
//! Codes are ISO 3166-1 alpha-2 as officially assigned by the ISO 3166 Maintenance Agency (the
//! list below, reviewed 2026-11-23), plus `XK` (Kosovo), a user-assigned code that the European
//! Commission and the GeoIP databases use. Anything else is an error, so a typo such as `"UK"`
//! (the code is `GB`) cannot silently weaken a policy.
//!
//! Groups, each with its source and date (docs/policy.md repeats them):
//!
//! | group | members | source, date |
//! |---|---|---|
//! | `@eu` | the 27 EU member states | european-union.europa.eu "Country profiles", 2026-11-23 |
//! | `@eea` | EU + Iceland, Liechtenstein, Norway | EFTA "EEA Agreement", 2026-11-23 |
//! | `@five-eyes` | AU, CA, GB, NZ, US | UKUSA Agreement (NSA/GCHQ declassified release, 2010) |
//! | `@china` | CN, HK, MO: China's legal jurisdiction | PRC National Intelligence Law (2017) art. 7; Hong Kong National Security Law (2020); Macao national security law (2023) |
//! | `@sanctioned` | CU, IR, KP, SY: comprehensively sanctioned | US Treasury OFAC sanctions programs, 2026-11-23 |

/// ISO 3166-1 alpha-2 codes, officially assigned, plus XK.
const CODES: &str =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL \
BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK \
DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU \
GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ \
LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY \
MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU \
RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO \
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW XK";

pub struct Group {
    pub name: &'static str,
    pub members: &'static [&'static str],
    pub description: &'static str,
    pub source: &'static str,
}

pub const GROUPS: [Group; 5] = [
    Group {
        name: "@eu",
        members: &[
            "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
            "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
        ],
        description: "the 27 member states of the European Union",
        source: "european-union.europa.eu, EU country profiles, reviewed 2026-11-23",
    },
    Group {
        name: "@eea",
        members: &[
            "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
            "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "IS",
            "LI", "NO",
        ],
        description: "the European Economic Area: the EU plus Iceland, Liechtenstein and Norway",
        source: "EFTA, EEA Agreement, reviewed 2026-11-23",
    },
    Group {
        name: "@five-eyes",
        members: &["AU", "CA", "GB", "NZ", "US"],
        description: "the Five Eyes signals-intelligence alliance (UKUSA Agreement)",
        source: "UKUSA Agreement, declassified by NSA and GCHQ in 2010; reviewed 2026-11-23",
    },
    Group {
        name: "@china",
        members: &["CN", "HK", "MO"],
        description: "China's legal jurisdiction: mainland China, Hong Kong and Macao",
        source:
            "PRC National Intelligence Law (2017) art. 7; Hong Kong National Security Law (2020); \
                 Macao Law on Safeguarding National Security (amended 2023); reviewed 2026-11-23",
    },
    Group {
        name: "@sanctioned",
        members: &["CU", "IR", "KP", "SY"],
        description: "countries under comprehensive US sanctions programs",
        source: "US Treasury OFAC sanctions programs and country information, reviewed 2026-11-23",
    },
];

/// True for an assigned ISO 3166-1 alpha-2 code (upper case).
pub fn is_country(code: &str) -> bool {
    code.len() == 2 && CODES.split_ascii_whitespace().any(|c| c == code)
}

/// The countries a policy entry names: a country code (any case) or a group name. `Err` says
/// what was wrong.
pub fn expand(entry: &str) -> Result<Vec<String>, String> {
    if entry.starts_with('@') {
        let group = GROUPS
            .iter()
            .find(|g| g.name.eq_ignore_ascii_case(entry))
            .ok_or_else(|| {
                let names: Vec<&str> = GROUPS.iter().map(|g| g.name).collect();
                format!("unknown group {entry:?}; groups are {}", names.join(", "))
            })?;
        return Ok(group.members.iter().map(|c| c.to_string()).collect());
    }
    let code = entry.to_ascii_uppercase();
    if is_country(&code) {
        Ok(vec![code])
    } else if code == "UK" {
        Err(format!(
            "{entry:?} is not an ISO 3166-1 code: the United Kingdom is \"GB\""
        ))
    } else {
        Err(format!(
            "{entry:?} is not an ISO 3166-1 alpha-2 country code or a group (@eu, @china, …)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_list_is_complete_and_well_formed() {
        let codes: Vec<&str> = CODES.split_ascii_whitespace().collect();
        assert_eq!(codes.len(), 250, "249 assigned codes and XK");
        assert!(codes
            .iter()
            .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase())));
        let mut sorted = codes.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), codes.len(), "no duplicates");
    }

    #[test]
    fn groups_hold_only_valid_codes() {
        for group in &GROUPS {
            for member in group.members {
                assert!(is_country(member), "{} has {member}", group.name);
            }
        }
        assert_eq!(GROUPS[0].members.len(), 27);
        assert_eq!(GROUPS[1].members.len(), 30);
    }

    #[test]
    fn entries_expand_or_say_why_not() {
        assert_eq!(expand("cn").unwrap(), ["CN"]);
        assert_eq!(expand("@China").unwrap(), ["CN", "HK", "MO"]);
        assert!(expand("UK").unwrap_err().contains("\"GB\""));
        assert!(expand("ZZ").unwrap_err().contains("not an ISO 3166-1"));
        assert!(expand("@nato").unwrap_err().contains("unknown group"));
        assert!(expand("China").is_err());
    }
}
