//! Command-line definitions only: clap parses, `lib::run` acts.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::policy::Severity;
use crate::report::Format;

#[derive(Debug, Parser)]
#[command(
    name = "callaudit",
    version,
    about = "Audit conferencing traffic: which servers got a call's key exchange, media and \
             signaling, where they are, who runs them, and whether that breaks your policy.",
    after_help = "Exit codes: 0 no finding at or above --fail-on, 1 findings, 2 usage or input error."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit saved captures (pcap, pcapng).
    Audit(AuditArgs),
    /// List the app catalog: each app, its evidence lists, and the source and date of each.
    Apps(AppsArgs),
    /// Where an address is, who operates it, and what the policy says about traffic to it.
    Lookup(LookupArgs),
    /// Print the documentation of one rule, or of every rule.
    Explain(ExplainArgs),
    /// Write a starter policy, or check a policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Capture live from an interface: findings the moment they are proved, the full report
    /// when it stops (Ctrl-C, SIGTERM, --duration, --count).
    Live(LiveArgs),
    /// List the interfaces libpcap can capture on.
    Interfaces(InterfacesArgs),
    /// Record today's findings as accepted, so that CI fails only on new ones.
    #[command(subcommand)]
    Baseline(BaselineCommand),
}

#[derive(Debug, Subcommand)]
pub enum BaselineCommand {
    /// Audit the captures and write their findings to FILE as accepted.
    Write {
        /// The baseline file to write (JSON).
        file: PathBuf,
        #[command(flatten)]
        audit: AuditArgs,
    },
}

#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Interface to capture on [default: libpcap's choice, as tcpdump's; see `interfaces`].
    #[arg(short, long, value_name = "NAME")]
    pub interface: Option<String>,

    /// Capture only packets matching this BPF expression (tcpdump syntax).
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Stop after this many seconds.
    #[arg(long, value_name = "SECONDS")]
    pub duration: Option<f64>,

    /// Stop after this many packets.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,

    /// Bytes kept of each packet.
    #[arg(long, default_value_t = 262_144, value_name = "BYTES")]
    pub snaplen: i32,

    /// Do not put the interface into promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,

    /// Write every captured packet to FILE (pcap): the evidence. Packet numbers in findings are
    /// this file's, so `callaudit audit FILE` later gives the same findings.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// Output: `table` (finding lines as they come, then the report), `json` (the report only;
    /// finding lines on stderr), `jsonl` (one JSON event per line, docs/live.md)
    /// [default: table on a terminal, jsonl otherwise].
    #[arg(long, value_enum)]
    pub format: Option<LiveFormatArg>,

    /// Write the final report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Evidence to publish: events and the final report without the capturing side, as
    /// `audit --redact` (the interface's name goes too; the --save file keeps every packet).
    #[arg(long)]
    pub redact: bool,

    /// Seconds without a packet after which a flow is finished and kept only as its report.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub idle_timeout: u32,

    #[command(flatten)]
    pub data: DataArgs,

    /// Exit with 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LiveFormatArg {
    Table,
    Json,
    Jsonl,
}

#[derive(Debug, clap::Args)]
pub struct InterfacesArgs {
    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormatArg>,
}

#[derive(Debug, clap::Args)]
pub struct LookupArgs {
    /// IPv4 or IPv6 addresses.
    #[arg(required = true, value_name = "ADDRESS")]
    pub addresses: Vec<String>,

    #[command(flatten)]
    pub data: DataArgs,

    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormatArg>,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A rule id (see the list with no argument).
    pub rule: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Write a commented starter policy to FILE (or standard output).
    Init {
        /// Where to write it; refuses to overwrite an existing file.
        file: Option<PathBuf>,
    },
    /// Validate a policy file: exit 0 and a summary when it is valid, exit 2 and the file, line
    /// and column of the problem otherwise.
    Check { file: PathBuf },
}

/// The data an audit or a lookup uses: policy, GeoIP databases, app catalog.
#[derive(Debug, clap::Args)]
pub struct DataArgs {
    /// Policy file (TOML) replacing the built-in default policy (see docs/policy.md).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Location database (MaxMind DB: GeoLite2/GeoIP2 Country or City, ip-location-db country)
    /// replacing the embedded one. Repeat it to compare databases: the first decides, and a
    /// server on which they disagree is marked.
    #[arg(long, value_name = "MMDB")]
    pub geoip_db: Vec<PathBuf>,

    /// ASN database (MaxMind DB: GeoLite2/GeoIP2 ASN) replacing the embedded one.
    #[arg(long, value_name = "MMDB")]
    pub asn_db: Option<PathBuf>,

    /// Operator-country database (country where each address's AS is registered) replacing the
    /// embedded one.
    #[arg(long, value_name = "MMDB")]
    pub operator_db: Option<PathBuf>,

    /// App catalog file (TOML, docs/app-catalog.md) adding to or overriding the embedded one.
    #[arg(long, value_name = "FILE")]
    pub apps: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct AppsArgs {
    /// App catalog file (TOML, docs/app-catalog.md) adding to or overriding the embedded one.
    #[arg(long, value_name = "FILE")]
    pub apps: Option<PathBuf>,

    /// Output format [default: table on a terminal, json otherwise].
    #[arg(long, value_enum)]
    pub format: Option<ListFormatArg>,
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Capture files, or directories to search for *.pcap, *.pcapng and *.cap.
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only analyse packets matching this BPF expression (tcpdump syntax). Packet numbers in
    /// findings still count every packet of the file, as Wireshark does.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Output format [default: table on a terminal, json otherwise or for a --output *.json].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,

    /// Write the report to FILE instead of standard output; `FORMAT=FILE` (e.g.
    /// `sarif=results.sarif`) picks the format. Repeat it for several formats at once; the
    /// format of a plain FILE is --format, else its extension (.json .jsonl .csv .sarif .xml
    /// .md .html .txt).
    #[arg(long, short, value_name = "[FORMAT=]FILE")]
    pub output: Vec<String>,

    /// Threads: captures read in parallel, and large JSON reports written in parallel
    /// [default: the number of CPUs]. The report is the same whatever the number.
    #[arg(long, short, value_name = "N")]
    pub jobs: Option<usize>,

    /// Accept the findings recorded in this baseline (`callaudit baseline write`): they are
    /// reported apart and do not count toward the exit code.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// Flows kept live at once per capture. Past it, the least recently seen flows are finished
    /// early (still reported, counted in the summary); a later packet of one starts a new flow.
    /// Bounds memory on huge or hostile captures (docs/robustness.md).
    #[arg(long, value_name = "N", default_value_t = crate::flow::DEFAULT_MAX_FLOWS as u64,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: u64,

    /// Evidence to publish: every format without the capturing side's addresses, local host
    /// names, MAC addresses and directories; servers and findings unchanged.
    ///
    /// Client addresses and those of local networks (private, loopback, link-local, CGNAT,
    /// unique-local) become documentation-range placeholders, the same for the same address
    /// (docs/json-report.md, "Redacted reports"). Not for `baseline write`.
    #[arg(long)]
    pub redact: bool,

    #[command(flatten)]
    pub data: DataArgs,

    /// Exit with 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value_t = FailOn::High)]
    pub fail_on: FailOn,

    /// Print to standard error how long each stage took: reading packets, settling flows
    /// (geolocation, policy, flow reports), writing each report (docs/performance.md).
    #[arg(long)]
    pub timings: bool,
}

/// Output of the listing commands (`apps`, `lookup`, `interfaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormatArg {
    Table,
    Json,
}

impl From<ListFormatArg> for Format {
    fn from(format: ListFormatArg) -> Format {
        match format {
            ListFormatArg::Table => Format::Table,
            ListFormatArg::Json => Format::Json,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Json,
    Jsonl,
    Csv,
    Sarif,
    Junit,
    Markdown,
    Html,
}

impl From<FormatArg> for Format {
    fn from(format: FormatArg) -> Format {
        match format {
            FormatArg::Table => Format::Table,
            FormatArg::Json => Format::Json,
            FormatArg::Jsonl => Format::Jsonl,
            FormatArg::Csv => Format::Csv,
            FormatArg::Sarif => Format::Sarif,
            FormatArg::Junit => Format::Junit,
            FormatArg::Markdown => Format::Markdown,
            FormatArg::Html => Format::Html,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Low,
    Medium,
    High,
    Critical,
    /// Never exit 1 because of findings.
    Never,
}

impl FailOn {
    /// The least severe finding that fails the run, or `None` for `never`.
    pub fn threshold(self) -> Option<Severity> {
        match self {
            FailOn::Info => Some(Severity::Info),
            FailOn::Low => Some(Severity::Low),
            FailOn::Medium => Some(Severity::Medium),
            FailOn::High => Some(Severity::High),
            FailOn::Critical => Some(Severity::Critical),
            FailOn::Never => None,
        }
    }
}
