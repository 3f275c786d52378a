//! Node placement: where ONNX Runtime put the nodes of a session, parsed from its verbose
//! session log ("Node placements" lines of `VerifyEachNodeIsAssignedToAnEp`).

use std::fmt;
use std::sync::{Arc, Mutex};

/// Where ONNX Runtime placed the nodes of a session (from its verbose session log).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Per execution provider (ONNX Runtime's name): the number of nodes and, when ONNX
    /// Runtime lists them, each node as "OpType (name)".
    pub providers: Vec<(String, usize, Vec<String>)>,
}

impl Placement {
    /// Parses ONNX Runtime's "Node placements" log lines.
    pub fn parse<S: AsRef<str>>(lines: &[S]) -> Self {
        let mut providers: Vec<(String, usize, Vec<String>)> = Vec::new();
        for line in lines {
            for l in line.as_ref().lines() {
                if let Some(pos) = l.find("placed on [") {
                    let rest = &l[pos + "placed on [".len()..];
                    let Some(end) = rest.find(']') else { continue };
                    let ep = rest[..end].to_string();
                    let count = rest
                        .rsplit(':')
                        .next()
                        .and_then(|n| n.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    providers.push((ep, count, Vec::new()));
                } else if l.starts_with("  ")
                    && !l.trim().is_empty()
                    && let Some(last) = providers.last_mut()
                {
                    last.2.push(l.trim().to_string());
                }
            }
        }
        Self { providers }
    }

    /// The number of nodes placed on `ep` (ONNX Runtime's name, e.g. "CPUExecutionProvider").
    pub fn nodes_on(&self, ep: &str) -> usize {
        self.providers
            .iter()
            .filter(|p| p.0 == ep)
            .map(|p| p.1)
            .sum()
    }
}

impl fmt::Display for Placement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.providers.is_empty() {
            return f.write_str("(no placement reported)");
        }
        for (i, (ep, n, nodes)) in self.providers.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{ep}: {n} node(s)")?;
            if !nodes.is_empty() {
                write!(f, " [{}]", nodes.join(", "))?;
            }
        }
        Ok(())
    }
}

/// Where the placement log lines of a session are collected.
pub(super) type LogSink = Arc<Mutex<Vec<String>>>;

/// A session logger that keeps ONNX Runtime's node-placement messages (those from
/// `VerifyEachNodeIsAssignedToAnEp`), and the sink they go to.
pub(super) fn recorder() -> (ort::logging::LoggerFunction, LogSink) {
    let lines: LogSink = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    let logger: ort::logging::LoggerFunction = Arc::new(
        move |_level: ort::logging::LogLevel,
              _cat: &str,
              _id: &str,
              location: &str,
              message: &str| {
            if location.contains("VerifyEachNodeIsAssignedToAnEp") {
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(message.to_string());
            }
        },
    );
    (logger, lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_placement_logs() {
        let p = Placement::parse(&[
            "Node placements",
            " Node(s) placed on [CUDAExecutionProvider]. Number of nodes: 2",
            "  Conv (conv0)",
            "  Relu (relu0)",
            " Node(s) placed on [CPUExecutionProvider]. Number of nodes: 1",
            "  Shape (shape0)",
        ]);
        assert_eq!(p.nodes_on("CUDAExecutionProvider"), 2);
        assert_eq!(p.nodes_on("CPUExecutionProvider"), 1);
        assert_eq!(p.providers[0].2, ["Conv (conv0)", "Relu (relu0)"]);
        let q =
            Placement::parse(&[" All nodes placed on [CPUExecutionProvider]. Number of nodes: 3"]);
        assert_eq!(q.nodes_on("CPUExecutionProvider"), 3);
        assert_eq!(q.to_string(), "CPUExecutionProvider: 3 node(s)");
    }
}
