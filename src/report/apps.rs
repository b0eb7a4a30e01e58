//! `callaudit apps`: the app catalog as a table or JSON — each app, its evidence lists, and the
//! source and date of each list, so a user can judge how current the knowledge is.

use std::io::{self, Write};

use serde::Serialize;

use super::Format;
use crate::classify::app::AppCatalog;

#[derive(Serialize)]
struct AppEntry {
    id: String,
    name: String,
    framings: Vec<String>,
    lists: Vec<ListEntry>,
}

#[derive(Serialize)]
struct ListEntry {
    kind: &'static str,
    count: usize,
    source: String,
    date: String,
    confidence: Option<&'static str>,
    note: Option<String>,
}

fn entries(catalog: &AppCatalog) -> Vec<AppEntry> {
    catalog
        .describe()
        .into_iter()
        .map(|app| AppEntry {
            id: app.id,
            name: app.name,
            framings: app.framings,
            lists: app
                .lists
                .into_iter()
                .map(|list| ListEntry {
                    kind: list.kind,
                    count: list.count,
                    source: list.source,
                    date: list.date,
                    confidence: list.confidence.map(|c| c.as_str()),
                    note: list.note,
                })
                .collect(),
        })
        .collect()
}

pub fn emit(catalog: &AppCatalog, format: Format, out: &mut dyn Write) -> io::Result<()> {
    let apps = entries(catalog);
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &apps)?;
            writeln!(out)
        }
        _ => {
            let mut table = comfy_table::Table::new();
            table
                .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
                .set_content_arrangement(comfy_table::ContentArrangement::Dynamic)
                .set_header(["App", "Name", "Evidence", "Entries", "Date", "Source"]);
            for app in &apps {
                if !app.framings.is_empty() {
                    let framings = app.framings.join(", ");
                    table.add_row([
                        app.id.as_str(),
                        app.name.as_str(),
                        "framings",
                        framings.as_str(),
                        "-",
                        "callaudit dissectors",
                    ]);
                }
                for list in &app.lists {
                    table.add_row([
                        app.id.clone(),
                        app.name.clone(),
                        list.kind.to_string(),
                        list.count.to_string(),
                        list.date.clone(),
                        list.source.clone(),
                    ]);
                }
            }
            writeln!(out, "{table}")?;
            writeln!(
                out,
                "{} apps. Override or extend with --apps FILE (docs/app-catalog.md).",
                apps.len()
            )
        }
    }
}
