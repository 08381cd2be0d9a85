//! Printing a plan: aligned tables for people, or one JSON document for programs.

use std::io::{self, Write};

use super::model::{FlowPlan, Plan};

/// `--format json`: the [`Plan`] as one JSON document.
pub fn json(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, plan)?;
    writeln!(out)
}

/// `--format table`: per flow, its topics, configs, ACLs, groups and exclusions.
pub fn table(plan: &Plan, out: &mut dyn Write) -> io::Result<()> {
    if plan.flows.is_empty() {
        writeln!(out, "no enabled flow: nothing would be replicated")?;
    }
    for (i, flow) in plan.flows.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        flow_table(flow, out)?;
    }
    Ok(())
}

fn flow_table(f: &FlowPlan, out: &mut dyn Write) -> io::Result<()> {
    writeln!(out, "flow {}->{}", f.source, f.target)?;

    writeln!(out, "\ntopics ({} replicated):", f.topics.len())?;
    let rows = f.topics.iter().map(|t| {
        let action = match (t.action, t.remote_partitions) {
            ("add-partitions", Some(from)) => format!("add-partitions (has {from})"),
            (a, _) => a.to_string(),
        };
        vec![
            t.source.clone(),
            t.remote.clone(),
            t.partitions.to_string(),
            action,
        ]
    });
    grid(out, &["SOURCE", "REMOTE", "PARTITIONS", "ACTION"], rows)?;

    let configs: Vec<Vec<String>> = f
        .topics
        .iter()
        .flat_map(|t| {
            t.configs.iter().map(|c| {
                vec![
                    t.remote.clone(),
                    c.name.clone(),
                    c.op.to_string(),
                    c.value.clone().unwrap_or_else(|| "-".into()),
                    c.current.clone().unwrap_or_else(|| "-".into()),
                ]
            })
        })
        .collect();
    writeln!(out, "\ntopic configs ({} to set or change):", configs.len())?;
    grid(out, &["REMOTE", "CONFIG", "OP", "VALUE", "NOW"], configs)?;

    writeln!(out, "\ntopic ACLs: {}", f.acls.status)?;
    let rows = f.acls.bindings.iter().map(|a| {
        vec![
            a.topic.clone(),
            a.principal.clone(),
            a.host.clone(),
            a.operation.to_string(),
            a.permission.to_string(),
        ]
    });
    if f.acls.status == "sync" {
        grid(
            out,
            &["REMOTE", "PRINCIPAL", "HOST", "OPERATION", "PERMISSION"],
            rows,
        )?;
    }

    let g = &f.groups;
    writeln!(
        out,
        "\ngroups: checkpoints {}, offset sync {}",
        on_off(g.checkpoints_enabled),
        on_off(g.sync_offsets_enabled)
    )?;
    let rows = g.checkpointed.iter().map(|c| {
        let sync = match (&c.sync_skipped, c.sync_offsets) {
            (Some(why), _) => format!("no: {why}"),
            (None, true) => "yes".into(),
            (None, false) => "no".into(),
        };
        vec![c.group.clone(), "yes".into(), sync]
    });
    grid(out, &["GROUP", "CHECKPOINT", "SYNC OFFSETS"], rows)?;

    writeln!(out, "\nexcluded ({}):", f.excluded.len())?;
    let rows = f.excluded.iter().map(|e| {
        let name = match &e.topic {
            Some(t) => format!("{t}:{}", e.name),
            None => e.name.clone(),
        };
        vec![e.kind.to_string(), name, e.reason.to_string()]
    });
    grid(out, &["KIND", "NAME", "REASON"], rows)
}

fn on_off(b: bool) -> &'static str {
    if b {
        "enabled"
    } else {
        "disabled"
    }
}

/// Writes `rows` under `head`, each column as wide as its widest cell, indented; `(none)` for
/// no rows.
fn grid(
    out: &mut dyn Write,
    head: &[&str],
    rows: impl IntoIterator<Item = Vec<String>>,
) -> io::Result<()> {
    let rows: Vec<Vec<String>> = rows.into_iter().collect();
    if rows.is_empty() {
        return writeln!(out, "  (none)");
    }
    let mut widths: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |out: &mut dyn Write, cells: Vec<&str>| -> io::Result<()> {
        let mut text = String::from("  ");
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            if i + 1 == cells.len() {
                text.push_str(c);
            } else {
                text.push_str(&format!("{c:<w$}  "));
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, head.to_vec())?;
    for r in &rows {
        line(out, r.iter().map(String::as_str).collect())?;
    }
    Ok(())
}
