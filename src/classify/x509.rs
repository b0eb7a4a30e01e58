//! The names in an X.509 certificate, read from its DER encoding: what an auditor needs to tie
//! a TLS or DTLS endpoint to an application (Google Meet's media servers present `CN=hangouts`,
//! Zoom's web-client media servers `*.cloud.zoom.us`).
//!
//! References: X.509 profile (RFC 5280 §4.1 Certificate and TBSCertificate, §4.1.2.4 Name,
//! §4.1.2.5 Validity, §4.2.1.6 subjectAltName), DER (ITU-T X.690 §8.1, §10), attribute types
//! (RFC 4519: commonName 2.5.4.3, organizationName 2.5.4.10), certificate name matching
//! (RFC 6125 §6.4.4: the most specific CN is the last one).
//!
//! # What is read
//!
//! Subject and issuer commonName and organizationName, subjectAltName dNSNames, the validity
//! period, and whether subject and issuer are the same Name (self-issued: WebRTC endpoints
//! generate such certificates per session). Nothing is verified: no signature, chain, key usage
//! or expiry check. The names are evidence of what an endpoint *claims* to be.
//!
//! # Strictness
//!
//! Strict about structure, lax about content:
//!
//! * The input must start with one complete DER element (`SEQUENCE { TBSCertificate,
//!   AlgorithmIdentifier, BIT STRING }`); a truncated certificate therefore yields `None`
//!   (every prefix of a certificate is rejected, which the tests check). Bytes after that
//!   element are ignored. Definite lengths only (BER's indefinite form is refused), at most
//!   three length bytes, single-byte tags.
//! * The TBSCertificate must hold, in order, the optional `[0]` version, the serial number,
//!   the signature algorithm, issuer, validity, subject and subjectPublicKeyInfo. The
//!   extensions are optional, and a malformed extension block only loses the dNSNames.
//! * Attribute values must be PrintableString, UTF8String or IA5String, or a TeletexString
//!   whose bytes are all ASCII (older CAs still issue those, e.g. the DTLS certificate in nDPI's
//!   `dtls_certificate_fragments.pcap`; beyond ASCII its T.61 encoding is ambiguous). Other
//!   values (BMPString, UniversalString, non-ASCII TeletexString, invalid UTF-8) are skipped. Control
//!   characters become U+FFFD, so a hostile name cannot drive a terminal; values are cut at
//!   [`MAX_NAME_LEN`] bytes on a character boundary.
//! * dNSNames must look like host names (letters, digits, `-`, `_`, `.`, `*`); others (and
//!   iPAddress, rfc822Name, URI entries) are skipped. They are lowercased, deduplicated and
//!   capped at [`MAX_DNS_NAMES`].
//!
//! The parser is linear in the input, never indexes out of bounds and never panics. It
//! allocates only the strings it returns. The handshake readers go through [`read_certificate`],
//! which keeps the certificates read lately on the thread and reads each of them once.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use foldhash::fast::RandomState;

/// Longest subject/issuer attribute value kept, in bytes (RFC 5280's upper bound for a
/// commonName is 64 characters; real certificates exceed it now and then).
pub const MAX_NAME_LEN: usize = 256;
/// Most dNSNames kept. Google's shared front-end certificates carry well over a hundred;
/// anything beyond this bound is dropped and counted in
/// [`CertificateNames::dns_names_dropped`].
pub const MAX_DNS_NAMES: usize = 256;
/// Longest DNS name in text form (RFC 1035 §2.3.4).
const MAX_DNS_NAME_LEN: usize = 253;

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_TELETEX_STRING: u8 = 0x14;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
/// `[0] EXPLICIT Version`.
const TAG_VERSION: u8 = 0xa0;
/// `[1] IMPLICIT issuerUniqueID`, `[2] IMPLICIT subjectUniqueID` (v2, obsolete).
const TAG_ISSUER_UNIQUE_ID: u8 = 0x81;
const TAG_SUBJECT_UNIQUE_ID: u8 = 0x82;
/// `[3] EXPLICIT Extensions`.
const TAG_EXTENSIONS: u8 = 0xa3;
/// GeneralName `dNSName [2] IMPLICIT IA5String`.
const TAG_DNS_NAME: u8 = 0x82;

/// OID contents (without tag and length) of the attributes and extension read.
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
const OID_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// What the auditor keeps from a certificate. See the module docs for how each field is read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateNames {
    /// The last (most specific) commonName of the subject.
    pub subject_cn: Option<String>,
    /// The last organizationName of the subject.
    pub subject_org: Option<String>,
    pub issuer_cn: Option<String>,
    pub issuer_org: Option<String>,
    /// subjectAltName dNSNames, lowercased, deduplicated, in certificate order.
    pub dns_names: Vec<String>,
    /// Valid dNSNames beyond [`MAX_DNS_NAMES`] that were not kept.
    pub dns_names_dropped: usize,
    /// Validity period, seconds since the Unix epoch (UTC); `None` when unreadable.
    pub not_before: Option<i64>,
    pub not_after: Option<i64>,
    /// Subject and issuer are the same Name (byte for byte): a self-signed certificate, as
    /// WebRTC endpoints use, or a root.
    pub self_issued: bool,
}

impl CertificateNames {
    /// The host names the certificate claims: the dNSNames, then the subject CN when it is not
    /// among them (some WebRTC servers put a host name only in the CN).
    pub fn host_names(&self) -> impl Iterator<Item = &str> {
        let cn = self.subject_cn.as_deref().filter(|cn| {
            !self
                .dns_names
                .iter()
                .any(|name| name.eq_ignore_ascii_case(cn))
        });
        self.dns_names.iter().map(String::as_str).chain(cn)
    }
}

/// Certificates [`read_certificate`] keeps per thread before it starts afresh.
const RECENT_CERTIFICATES: usize = 256;

/// Names read from certificates, by the certificates' DER encoding.
type ReadCertificates = HashMap<Box<[u8]>, Option<Arc<CertificateNames>>, RandomState>;

thread_local! {
    /// The certificates read lately on this thread, by their DER encoding, with their names.
    /// A server presents the same certificate to every client, on every connection: a capture
    /// of many connections would read it again and again, thousands of instructions each time
    /// (a hundred dNSNames lowercased and deduplicated), where finding it here costs a hash of
    /// its bytes.
    static RECENT: RefCell<ReadCertificates> = RefCell::default();
}

/// [`parse_certificate`] for the handshake readers: the same names, shared, and read once
/// for a certificate seen lately on this thread.
pub fn read_certificate(der: &[u8]) -> Option<Arc<CertificateNames>> {
    let (_, _, trailing) = read_element(der)?;
    let element = der.get(..der.len() - trailing.len())?;
    RECENT.with_borrow_mut(|recent| {
        if let Some(names) = recent.get(element) {
            return names.clone();
        }
        let names = parse_certificate(element).map(Arc::new);
        if recent.len() >= RECENT_CERTIFICATES {
            recent.clear();
        }
        recent.insert(element.into(), names.clone());
        names
    })
}

/// Reads the names of one DER certificate (see the module docs). `None` when the structure up
/// to subjectPublicKeyInfo is not a certificate's, including any truncation.
pub fn parse_certificate(der: &[u8]) -> Option<CertificateNames> {
    let (tag, certificate, _trailing) = read_element(der)?;
    if tag != TAG_SEQUENCE {
        return None;
    }
    let mut certificate = Elements::new(certificate);
    let tbs = certificate.expect(TAG_SEQUENCE)?;
    certificate.expect(TAG_SEQUENCE)?; // signatureAlgorithm
    certificate.expect(TAG_BIT_STRING)?; // signatureValue

    let mut tbs = Elements::new(tbs);
    tbs.optional(TAG_VERSION);
    tbs.expect(TAG_INTEGER)?; // serialNumber
    tbs.expect(TAG_SEQUENCE)?; // signature
    let issuer = tbs.expect(TAG_SEQUENCE)?;
    let validity = tbs.expect(TAG_SEQUENCE)?;
    let subject = tbs.expect(TAG_SEQUENCE)?;
    tbs.expect(TAG_SEQUENCE)?; // subjectPublicKeyInfo
    tbs.optional(TAG_ISSUER_UNIQUE_ID);
    tbs.optional(TAG_SUBJECT_UNIQUE_ID);
    let extensions = tbs.optional(TAG_EXTENSIONS);

    let subject_names = read_name(subject);
    let issuer_names = read_name(issuer);
    let (not_before, not_after) = read_validity(validity);
    let mut names = CertificateNames {
        subject_cn: subject_names.common_name,
        subject_org: subject_names.organization,
        issuer_cn: issuer_names.common_name,
        issuer_org: issuer_names.organization,
        not_before,
        not_after,
        self_issued: subject == issuer,
        ..CertificateNames::default()
    };
    if let Some(extensions) = extensions {
        read_dns_names(extensions, &mut names);
    }
    Some(names)
}

/// One TLV: `(tag, contents, rest)`. Single-byte tags and definite lengths of at most three
/// bytes (16 MiB); the contents must fit.
fn read_element(bytes: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, after_tag) = bytes.split_first()?;
    if tag & 0x1f == 0x1f {
        return None; // multi-byte tag: never used by X.509
    }
    let (&first, after_first) = after_tag.split_first()?;
    let (length, after_length) = if first < 0x80 {
        (usize::from(first), after_first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 {
            return None; // indefinite length (BER only) or absurdly long
        }
        let (length_bytes, after_length) = after_first.split_at_checked(count)?;
        let length = length_bytes
            .iter()
            .fold(0usize, |acc, &byte| (acc << 8) | usize::from(byte));
        (length, after_length)
    };
    let (contents, rest) = after_length.split_at_checked(length)?;
    Some((tag, contents, rest))
}

/// The elements of a constructed value, in order.
struct Elements<'a> {
    rest: &'a [u8],
}

impl<'a> Elements<'a> {
    fn new(contents: &'a [u8]) -> Self {
        Self { rest: contents }
    }

    /// The next element's contents if its tag is `tag`.
    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (found, contents, rest) = read_element(self.rest)?;
        if found != tag {
            return None;
        }
        self.rest = rest;
        Some(contents)
    }

    /// Like `expect`, but a different next element is left in place.
    fn optional(&mut self, tag: u8) -> Option<&'a [u8]> {
        match read_element(self.rest) {
            Some((found, contents, rest)) if found == tag => {
                self.rest = rest;
                Some(contents)
            }
            _ => None,
        }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = (u8, &'a [u8]);

    /// Stops at the first malformed element.
    fn next(&mut self) -> Option<Self::Item> {
        let (tag, contents, rest) = read_element(self.rest)?;
        self.rest = rest;
        Some((tag, contents))
    }
}

#[derive(Default)]
struct NameAttributes {
    common_name: Option<String>,
    organization: Option<String>,
}

/// `Name ::= SEQUENCE OF SET OF AttributeTypeAndValue`. The last readable value of each
/// attribute wins; only the winners are converted to strings.
fn read_name(name: &[u8]) -> NameAttributes {
    let mut common_name = None;
    let mut organization = None;
    for (tag, rdn) in Elements::new(name) {
        if tag != TAG_SET {
            break;
        }
        for (tag, attribute) in Elements::new(rdn) {
            if tag != TAG_SEQUENCE {
                break;
            }
            let mut attribute = Elements::new(attribute);
            let Some(oid) = attribute.expect(TAG_OID) else {
                continue;
            };
            let Some((value_tag, value)) = attribute.next() else {
                continue;
            };
            if !is_directory_string(value_tag) {
                continue;
            }
            if oid == OID_COMMON_NAME {
                common_name = Some((value_tag, value));
            } else if oid == OID_ORGANIZATION {
                organization = Some((value_tag, value));
            }
        }
    }
    NameAttributes {
        common_name: common_name.and_then(|(tag, value)| directory_string(tag, value)),
        organization: organization.and_then(|(tag, value)| directory_string(tag, value)),
    }
}

fn is_directory_string(tag: u8) -> bool {
    matches!(
        tag,
        TAG_PRINTABLE_STRING | TAG_UTF8_STRING | TAG_IA5_STRING | TAG_TELETEX_STRING
    )
}

/// The text of a PrintableString, UTF8String, IA5String or TeletexString; `None` for an empty
/// or invalid value. All but UTF8String must be ASCII.
fn directory_string(tag: u8, value: &[u8]) -> Option<String> {
    if tag != TAG_UTF8_STRING && !value.is_ascii() {
        return None;
    }
    if !is_directory_string(tag) {
        return None;
    }
    let text = std::str::from_utf8(value).ok()?;
    if text.is_empty() {
        return None;
    }
    let mut clean = String::with_capacity(text.len().min(MAX_NAME_LEN));
    for c in text.chars() {
        let c = if c.is_control() { '\u{fffd}' } else { c };
        if clean.len().saturating_add(c.len_utf8()) > MAX_NAME_LEN {
            break;
        }
        clean.push(c);
    }
    Some(clean)
}

/// `Validity ::= SEQUENCE { notBefore Time, notAfter Time }`.
fn read_validity(validity: &[u8]) -> (Option<i64>, Option<i64>) {
    let mut times = Elements::new(validity);
    let not_before = times.next().and_then(|(tag, value)| read_time(tag, value));
    let not_after = times.next().and_then(|(tag, value)| read_time(tag, value));
    (not_before, not_after)
}

/// UTCTime `YYMMDDHHMMSSZ` (years 1950–2049, RFC 5280 §4.1.2.5.1) or GeneralizedTime
/// `YYYYMMDDHHMMSSZ`, as seconds since the Unix epoch.
fn read_time(tag: u8, value: &[u8]) -> Option<i64> {
    let (year, rest) = match tag {
        TAG_UTC_TIME => {
            let (yy, rest) = value.split_first_chunk::<2>()?;
            let yy = digits(yy)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, rest)
        }
        TAG_GENERALIZED_TIME => {
            let (yyyy, rest) = value.split_first_chunk::<4>()?;
            (digits(yyyy)?, rest)
        }
        _ => return None,
    };
    let [m0, m1, d0, d1, h0, h1, n0, n1, s0, s1, b'Z'] = *rest else {
        return None;
    };
    let month = digits(&[m0, m1])?;
    let day = digits(&[d0, d1])?;
    let hour = digits(&[h0, h1])?;
    let minute = digits(&[n0, n1])?;
    let second = digits(&[s0, s1])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// ASCII decimal digits as a number.
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0i64, |acc, &byte| {
        byte.is_ascii_digit()
            .then(|| acc * 10 + i64::from(byte - b'0'))
    })
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// Finds the (first) subjectAltName extension and collects its dNSNames.
fn read_dns_names(extensions: &[u8], names: &mut CertificateNames) {
    let Some(list) = Elements::new(extensions).expect(TAG_SEQUENCE) else {
        return;
    };
    for (tag, extension) in Elements::new(list) {
        if tag != TAG_SEQUENCE {
            return;
        }
        let mut extension = Elements::new(extension);
        if extension.expect(TAG_OID) != Some(OID_SUBJECT_ALT_NAME) {
            continue;
        }
        extension.optional(TAG_BOOLEAN); // critical
        let Some(value) = extension.expect(TAG_OCTET_STRING) else {
            return;
        };
        let Some(general_names) = Elements::new(value).expect(TAG_SEQUENCE) else {
            return;
        };
        for (tag, general_name) in Elements::new(general_names) {
            if tag != TAG_DNS_NAME {
                continue;
            }
            let Some(name) = dns_name(general_name) else {
                continue;
            };
            if names.dns_names.contains(&name) {
                continue;
            }
            if names.dns_names.len() >= MAX_DNS_NAMES {
                names.dns_names_dropped = names.dns_names_dropped.saturating_add(1);
                continue;
            }
            names.dns_names.push(name);
        }
        return;
    }
}

/// A plausible (possibly wildcard) DNS name, lowercased, without a trailing dot.
fn dns_name(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.strip_suffix(b".").unwrap_or(bytes);
    if bytes.is_empty() || bytes.len() > MAX_DNS_NAME_LEN {
        return None;
    }
    let valid = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*'));
    if !valid || bytes.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return None;
    }
    let mut name = String::with_capacity(bytes.len());
    name.extend(bytes.iter().map(|b| char::from(b.to_ascii_lowercase())));
    Some(name)
}

/// Certificates generated with OpenSSL 3.0 for the tests of this module and of the TLS and
/// DTLS handshake readers.
#[cfg(test)]
pub(crate) mod samples {
    /// `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj
    /// "/CN=hangouts" -days 30 -set_serial 0x1234`: the shape of Google Meet's DTLS
    /// certificate (self-signed, only a UTF8String CN, no subjectAltName).
    pub(crate) const HANGOUTS_DER: &str = "3082016a3082010fa00302010202021234300a06082a8648ce3d04030230133111300f06035504030c0868616e676f757473301e170d3236313132333038353233305a170d3236313232333038353233305a30133111300f06035504030c0868616e676f7574733059301306072a8648ce3d020106082a8648ce3d03010703420004cc0dd36d8bf6f817492bbf64f4d0c820b827a1e169e944bf671a454276c7f647330d8c891fab7d811f1b51047c479957bcd3146c4781b993f916ae98a9ff3e62a3533051301d0603551d0e041604140ef7218e264aa3c0f3150491a60bcc573e4b5168301f0603551d230418301680140ef7218e264aa3c0f3150491a60bcc573e4b5168300f0603551d130101ff040530030101ff300a06082a8648ce3d0403020349003046022100866b96fa10d982e702ce70638b44cfaaf476cb29a9bad632cdc1f29bffb35b55022100bfec5a004603f59c2cb9e8ec5655f436ce783a48c2376c8e0f5c05daeefe96d3";

    /// Issued by a test CA (`-CA ca.pem -CAkey ca.key`) with `-subj "/C=US/ST=California/O=Zoom
    /// Video Communications, Inc./CN=*.cloud.zoom.us" -addext "subjectAltName=DNS:*.cloud.zoom.us,
    /// DNS:Cloud.Zoom.US,IP:192.0.2.1,email:a@b.c"`: PrintableString country, UTF8String
    /// names, a mixed-case dNSName and two GeneralNames that are not dNSNames.
    pub(crate) const CLOUD_ZOOM_DER: &str = "30820236308201dda0030201020214695502543e725ccac0bc75222f2530c9483a0f00300a06082a8648ce3d0403023042310b300906035504061302555331163014060355040a0c0d4578616d706c65205472757374311b301906035504030c124578616d706c652049737375696e67204341301e170d3236313132333038353233305a170d3237313232353038353233305a3066310b30090603550406130255533113301106035504080c0a43616c69666f726e696131283026060355040a0c1f5a6f6f6d20566964656f20436f6d6d756e69636174696f6e732c20496e632e3118301606035504030c0f2a2e636c6f75642e7a6f6f6d2e75733059301306072a8648ce3d020106082a8648ce3d0301070342000411a0ed58a93feb6cb1bab206af79416b34d956d6f8ed374a8652451842eb496344ffab81168dc8edb2cd922338b00f09eeadfdb087244058a0cfb0b2eff62d12a3818c308189301d0603551d0e04160414252b52bb05acd43e6502e98faa1b8bcd5f633bc1301f0603551d23041830168014545f7a63142a4e6d747aef2ca3636a4da4711d71300f0603551d130101ff040530030101ff30360603551d11042f302d820f2a2e636c6f75642e7a6f6f6d2e7573820d436c6f75642e5a6f6f6d2e55538704c000020181056140622e63300a06082a8648ce3d0403020347003044022060ba0d86790851b7d2d2549f6f05e72147484142622afa37aee2f3a7104043be02200e15f86fcef1b0cfbd9fec3102732c0c767c4276e545492c43baa32052bc2c10";

    /// `openssl req -utf8 ... -subj "/O=Zoöm Ünïcode/OU=x/CN=first/CN=Ĉommon" -days 1`: two
    /// CNs in separate RDNs and non-ASCII UTF8Strings.
    pub(crate) const UNICODE_DER: &str = "308201e53082018ba00302010202144e44c716cd04aa301988afd9709505a4ca411e7f300a06082a8648ce3d040302304831183016060355040a0c0f5a6fc3b66d20c39c6ec3af636f6465310a3008060355040b0c0178310e300c06035504030c0566697273743110300e06035504030c07c4886f6d6d6f6e301e170d3236313132333038353233305a170d3236313132343038353233305a304831183016060355040a0c0f5a6fc3b66d20c39c6ec3af636f6465310a3008060355040b0c0178310e300c06035504030c0566697273743110300e06035504030c07c4886f6d6d6f6e3059301306072a8648ce3d020106082a8648ce3d030107034200041bd343c6a25839d7945752c71d8056c55cd2445a4cab341b73d5d5dfe846e72527dfc74b7a4a683edf51bfdf501e842334d758a88fd2fd5633b42b23d37a9dc7a3533051301d0603551d0e04160414d5e1d622def2d8e4948a5d77d69b8ff4ed6ec708301f0603551d23041830168014d5e1d622def2d8e4948a5d77d69b8ff4ed6ec708300f0603551d130101ff040530030101ff300a06082a8648ce3d0403020348003045022073f3137c43cc59aecabe4eb8c62e3070035a3bb1bdc1ce1493dca3344784c556022100e9ba3b9a4b0c29772b7e318e30031a2adf8f71265e11e6d3e52f6f8b9322390f";

    /// `-subj "/CN=WebRTC" -days 12000`: notAfter in 2059 is a GeneralizedTime.
    pub(crate) const WEBRTC_2059_DER: &str = "308201673082010ca003020102020107300a06082a8648ce3d0403023011310f300d06035504030c065765625254433020170d3236313132333038353233335a180f32303539313030313038353233335a3011310f300d06035504030c065765625254433059301306072a8648ce3d020106082a8648ce3d03010703420004f415655b02e057e2f453a0dfde45f98d242577de0ad38d6ce507a5d1470dd0068167950f96763f78df66d0aafd780d40d18767204980dd172097470ff40dcee8a3533051301d0603551d0e04160414ed3067a20368e86c910ee2128de97e083e8be105301f0603551d23041830168014ed3067a20368e86c910ee2128de97e083e8be105300f0603551d130101ff040530030101ff300a06082a8648ce3d0403020349003046022100e9c616e26a15f75cd7f363713218b38333ba4410fa9b327b15f5a547b1f59149022100954fb9f46d4916555a55a1921ac34202e26038249af7c9afaee5722db134601a";
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;
    use crate::classify::testing::hex;
    use proptest::prelude::*;

    #[test]
    fn hangouts_self_signed() {
        let names = parse_certificate(&hex(HANGOUTS_DER)).unwrap();
        assert_eq!(
            names,
            CertificateNames {
                subject_cn: Some("hangouts".into()),
                issuer_cn: Some("hangouts".into()),
                // `date -u -d "2026-11-23 08:52:30" +%s`, and 30 days later.
                not_before: Some(1_795_423_950),
                not_after: Some(1_798_015_950),
                self_issued: true,
                ..CertificateNames::default()
            }
        );
        assert_eq!(names.host_names().collect::<Vec<_>>(), ["hangouts"]);
    }

    #[test]
    fn cloud_zoom_issued_by_a_ca() {
        let names = parse_certificate(&hex(CLOUD_ZOOM_DER)).unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("*.cloud.zoom.us"));
        assert_eq!(
            names.subject_org.as_deref(),
            Some("Zoom Video Communications, Inc.")
        );
        assert_eq!(names.issuer_cn.as_deref(), Some("Example Issuing CA"));
        assert_eq!(names.issuer_org.as_deref(), Some("Example Trust"));
        assert_eq!(names.dns_names, ["*.cloud.zoom.us", "cloud.zoom.us"]);
        assert_eq!(names.dns_names_dropped, 0);
        assert_eq!(
            (names.not_before, names.not_after, names.self_issued),
            (Some(1_795_423_950), Some(1_829_724_750), false)
        );
        // The CN repeats a dNSName, so it is not listed twice.
        assert_eq!(names.host_names().count(), 2);
    }

    #[test]
    fn unicode_and_last_common_name() {
        let names = parse_certificate(&hex(UNICODE_DER)).unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("Ĉommon"));
        assert_eq!(names.subject_org.as_deref(), Some("Zoöm Ünïcode"));
        assert!(names.self_issued && names.dns_names.is_empty());
    }

    #[test]
    fn a_certificate_read_again_is_shared_not_read_again() {
        let hangouts = hex(HANGOUTS_DER);
        let zoom = hex(CLOUD_ZOOM_DER);
        let first = read_certificate(&[hangouts.clone(), zoom.clone()].concat()).unwrap();
        assert_eq!(Some(&*first), parse_certificate(&hangouts).as_ref());
        // The same leaf with another chain behind it, or none: the names already read.
        let again = read_certificate(&hangouts).unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        let other = read_certificate(&zoom).unwrap();
        assert_eq!(Some(&*other), parse_certificate(&zoom).as_ref());
        assert!(!Arc::ptr_eq(&first, &other));
        assert_eq!(read_certificate(&hangouts[..hangouts.len() - 1]), None);
    }

    #[test]
    fn the_certificates_kept_are_bounded() {
        let subject = |i: usize| NameSpec {
            cn: Some((TAG_UTF8_STRING, format!("host{i}"))),
            org: None,
        };
        for i in 0..RECENT_CERTIFICATES + 10 {
            let der = certificate_der(&subject(i), &subject(0), &[]);
            let names = read_certificate(&der).unwrap();
            assert_eq!(
                names.subject_cn.as_deref(),
                Some(format!("host{i}").as_str())
            );
            assert!(RECENT.with_borrow(HashMap::len) <= RECENT_CERTIFICATES);
        }
    }

    #[test]
    fn generalized_time() {
        let names = parse_certificate(&hex(WEBRTC_2059_DER)).unwrap();
        assert_eq!(names.subject_cn.as_deref(), Some("WebRTC"));
        assert_eq!(
            (names.not_before, names.not_after),
            (Some(1_795_423_953), Some(2_832_223_953))
        );
    }

    #[test]
    fn time_edge_cases() {
        assert_eq!(read_time(TAG_UTC_TIME, b"700101000000Z"), Some(0));
        assert_eq!(
            read_time(TAG_UTC_TIME, b"491231235959Z"),
            Some(2_524_607_999)
        );
        assert_eq!(
            read_time(TAG_GENERALIZED_TIME, b"19500101000000Z"),
            Some(-631_152_000)
        );
        assert_eq!(read_time(TAG_UTC_TIME, b"7001010000Z"), None);
        assert_eq!(read_time(TAG_UTC_TIME, b"701301000000Z"), None);
        assert_eq!(read_time(TAG_UTC_TIME, b"700101000000+0100"), None);
        assert_eq!(read_time(TAG_GENERALIZED_TIME, b"1970010100000Z"), None);
        assert_eq!(read_time(TAG_INTEGER, b"700101000000Z"), None);
    }

    #[test]
    fn string_rules() {
        assert_eq!(
            directory_string(TAG_PRINTABLE_STRING, b"ok").as_deref(),
            Some("ok")
        );
        assert_eq!(directory_string(TAG_PRINTABLE_STRING, "é".as_bytes()), None);
        assert_eq!(directory_string(TAG_UTF8_STRING, &[0xff]), None);
        assert_eq!(directory_string(TAG_UTF8_STRING, b""), None);
        assert_eq!(directory_string(0x1e, b"\0a"), None); // BMPString
        assert_eq!(
            directory_string(TAG_TELETEX_STRING, b"*.opera-mini.net").as_deref(),
            Some("*.opera-mini.net")
        );
        assert_eq!(directory_string(TAG_TELETEX_STRING, &[0xc2, 0x61]), None);
        assert_eq!(
            directory_string(TAG_IA5_STRING, b"a\x1b[31m").as_deref(),
            Some("a\u{fffd}[31m")
        );
        let long = "é".repeat(200);
        let cut = directory_string(TAG_UTF8_STRING, long.as_bytes()).unwrap();
        assert_eq!(cut.len(), MAX_NAME_LEN);
        assert_eq!(
            dns_name(b"Meet.Google.COM.").as_deref(),
            Some("meet.google.com")
        );
        assert_eq!(dns_name(b"a..b"), None);
        assert_eq!(dns_name(b"bad name"), None);
    }

    #[test]
    fn rejects_non_certificates() {
        let der = hex(HANGOUTS_DER);
        assert_eq!(parse_certificate(&[]), None);
        assert_eq!(
            parse_certificate(&der[4..]),
            None,
            "the TBSCertificate alone"
        );
        let mut indefinite = der.clone();
        indefinite[1] = 0x80;
        assert_eq!(parse_certificate(&indefinite), None);
        let mut not_sequence = der.clone();
        not_sequence[0] = 0x31;
        assert_eq!(parse_certificate(&not_sequence), None);
        // Trailing bytes after the certificate are ignored.
        let mut trailing = der;
        trailing.extend_from_slice(&[0xde, 0xad]);
        assert!(parse_certificate(&trailing).is_some());
    }

    // ---- generated certificates ----

    fn element(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = contents.len();
        if len < 0x80 {
            out.push(len as u8);
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, len as u8]);
        } else if len < 0x1_0000 {
            out.push(0x82);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(0x83);
            out.extend_from_slice(&(len as u32).to_be_bytes()[1..]);
        }
        out.extend_from_slice(contents);
        out
    }

    fn concat(parts: &[Vec<u8>]) -> Vec<u8> {
        parts.concat()
    }

    #[derive(Debug, Clone)]
    struct NameSpec {
        cn: Option<(u8, String)>,
        org: Option<(u8, String)>,
    }

    fn name_der(spec: &NameSpec) -> Vec<u8> {
        let mut rdns = vec![element(
            TAG_SET,
            &element(
                TAG_SEQUENCE,
                &concat(&[
                    element(TAG_OID, &[0x55, 0x04, 0x06]),
                    element(TAG_PRINTABLE_STRING, b"US"),
                ]),
            ),
        )];
        for (oid, value) in [(OID_ORGANIZATION, &spec.org), (OID_COMMON_NAME, &spec.cn)] {
            if let Some((tag, text)) = value {
                rdns.push(element(
                    TAG_SET,
                    &element(
                        TAG_SEQUENCE,
                        &concat(&[element(TAG_OID, oid), element(*tag, text.as_bytes())]),
                    ),
                ));
            }
        }
        element(TAG_SEQUENCE, &rdns.concat())
    }

    fn certificate_der(subject: &NameSpec, issuer: &NameSpec, dns: &[String]) -> Vec<u8> {
        let algorithm = element(
            TAG_SEQUENCE,
            &element(TAG_OID, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02]),
        );
        let validity = element(
            TAG_SEQUENCE,
            &concat(&[
                element(TAG_UTC_TIME, b"700101000000Z"),
                element(TAG_GENERALIZED_TIME, b"20991231235959Z"),
            ]),
        );
        let spki = element(
            TAG_SEQUENCE,
            &concat(&[algorithm.clone(), element(TAG_BIT_STRING, &[0, 4, 1, 2])]),
        );
        let mut tbs = vec![
            element(TAG_VERSION, &element(TAG_INTEGER, &[2])),
            element(TAG_INTEGER, &[1, 2, 3]),
            algorithm.clone(),
            name_der(issuer),
            validity,
            name_der(subject),
            spki,
        ];
        if !dns.is_empty() {
            let general_names: Vec<u8> = dns
                .iter()
                .flat_map(|name| element(TAG_DNS_NAME, name.as_bytes()))
                .collect();
            let san = element(
                TAG_SEQUENCE,
                &concat(&[
                    element(TAG_OID, OID_SUBJECT_ALT_NAME),
                    element(TAG_OCTET_STRING, &element(TAG_SEQUENCE, &general_names)),
                ]),
            );
            let basic = element(
                TAG_SEQUENCE,
                &concat(&[
                    element(TAG_OID, &[0x55, 0x1d, 0x13]),
                    element(TAG_BOOLEAN, &[0xff]),
                    element(TAG_OCTET_STRING, &element(TAG_SEQUENCE, &[])),
                ]),
            );
            tbs.push(element(
                TAG_EXTENSIONS,
                &element(TAG_SEQUENCE, &concat(&[basic, san])),
            ));
        }
        element(
            TAG_SEQUENCE,
            &concat(&[
                element(TAG_SEQUENCE, &tbs.concat()),
                algorithm,
                element(TAG_BIT_STRING, &[0, 0xaa, 0xbb]),
            ]),
        )
    }

    fn string_value() -> impl Strategy<Value = (u8, String)> {
        prop_oneof![
            "[A-Za-z0-9 .,'()*-]{1,40}".prop_map(|s| (TAG_PRINTABLE_STRING, s)),
            "[a-z0-9.*]{1,40}".prop_map(|s| (TAG_IA5_STRING, s)),
            "\\PC{1,30}".prop_map(|s| (TAG_UTF8_STRING, s)),
        ]
    }

    fn name_spec() -> impl Strategy<Value = NameSpec> {
        (
            proptest::option::of(string_value()),
            proptest::option::of(string_value()),
        )
            .prop_map(|(cn, org)| NameSpec { cn, org })
    }

    fn dns_list() -> impl Strategy<Value = Vec<String>> {
        proptest::collection::vec("(\\*\\.)?[a-z0-9]{1,10}(\\.[a-z0-9-]{1,10}){0,3}", 0..8)
    }

    proptest! {
        #[test]
        fn generated_certificate_round_trips(
            subject in name_spec(),
            issuer in name_spec(),
            dns in dns_list(),
        ) {
            let der = certificate_der(&subject, &issuer, &dns);
            let names = parse_certificate(&der).unwrap();
            let shared = read_certificate(&der);
            prop_assert_eq!(shared.as_deref(), Some(&names));
            prop_assert_eq!(names.subject_cn, subject.cn.map(|(_, s)| s));
            prop_assert_eq!(names.subject_org, subject.org.map(|(_, s)| s));
            prop_assert_eq!(names.issuer_cn, issuer.cn.map(|(_, s)| s));
            prop_assert_eq!(names.issuer_org, issuer.org.map(|(_, s)| s));
            let mut unique: Vec<String> = Vec::new();
            for name in dns {
                if !unique.contains(&name) {
                    unique.push(name);
                }
            }
            prop_assert_eq!(names.dns_names, unique);
            prop_assert_eq!(names.not_before, Some(0));
            prop_assert_eq!(names.not_after, Some(4_102_444_799));
        }

        #[test]
        fn every_truncation_is_rejected(
            subject in name_spec(),
            dns in dns_list(),
        ) {
            let der = certificate_der(&subject, &subject, &dns);
            prop_assert!(parse_certificate(&der).unwrap().self_issued);
            for cut in 0..der.len() {
                prop_assert_eq!(parse_certificate(&der[..cut]), None);
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let (shared, parsed) = (read_certificate(&bytes), parse_certificate(&bytes));
            prop_assert_eq!(shared.as_deref(), parsed.as_ref());
            let _ = read_name(&bytes);
            let mut names = CertificateNames::default();
            read_dns_names(&bytes, &mut names);
        }

        /// Behind a SEQUENCE header whose length fits (so the walk reaches the TBS fields),
        /// anything: no panic, and any names found are well-formed.
        #[test]
        fn arbitrary_bytes_in_a_sequence_never_panic(
            inner in proptest::collection::vec(any::<u8>(), 0..400),
            tbs_first in any::<bool>(),
        ) {
            let contents = if tbs_first { [vec![TAG_SEQUENCE, 0x81, inner.len().min(255) as u8], inner].concat() } else { inner };
            let der = element(TAG_SEQUENCE, &contents);
            if let Some(names) = parse_certificate(&der) {
                prop_assert!(names.dns_names.iter().all(|n| dns_name(n.as_bytes()).as_deref() == Some(n.as_str())));
            }
        }

        #[test]
        fn corrupted_real_certificates_never_panic(
            which in 0usize..4,
            position in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut der = hex([HANGOUTS_DER, CLOUD_ZOOM_DER, UNICODE_DER, WEBRTC_2059_DER][which]);
            let at = position.index(der.len());
            der[at] = value;
            let _ = parse_certificate(&der);
        }
    }

    #[test]
    fn dns_name_cap() {
        let many: Vec<String> = (0..MAX_DNS_NAMES + 10)
            .map(|i| format!("h{i}.example"))
            .collect();
        let spec = NameSpec {
            cn: None,
            org: None,
        };
        let names = parse_certificate(&certificate_der(&spec, &spec, &many)).unwrap();
        assert_eq!(names.dns_names.len(), MAX_DNS_NAMES);
        assert_eq!(names.dns_names_dropped, 10);
        assert_eq!(names.subject_cn, None);
    }
}
