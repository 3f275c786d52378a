//! The NVIDIA GPUs the driver shows: `nvidia-smi`'s query output when the tool is there,
//! else the driver's `/proc/driver/nvidia/gpus/*/information` files (names only).

use std::path::Path;
use std::process::{Command, Stdio};

use serde::Serialize;

/// One GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gpu {
    /// The driver's index (what `cuda:N` means when `CUDA_VISIBLE_DEVICES` is unset).
    pub index: u32,
    /// Its name, e.g. `NVIDIA H200`.
    pub name: String,
    /// Total memory in MiB, when known.
    pub memory_mib: Option<u64>,
    /// The driver version, when known.
    pub driver: Option<String>,
}

/// Where the GPU list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuSource {
    /// `nvidia-smi --query-gpu`.
    NvidiaSmi,
    /// `/proc/driver/nvidia/gpus/*/information`.
    ProcDriver,
    /// Neither is there: no NVIDIA driver is visible.
    None,
}

/// The GPUs and where they were read.
#[derive(Debug, Clone)]
pub struct GpuList {
    /// The GPUs.
    pub gpus: Vec<Gpu>,
    /// Where the list came from.
    pub source: GpuSource,
}

/// Lists the NVIDIA GPUs (see the module docs).
pub fn find_gpus() -> GpuList {
    let smi = Command::new("nvidia-smi")
        .args([
            "--query-gpu=index,name,memory.total,driver_version",
            "--format=csv,noheader,nounits",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    if let Ok(o) = smi
        && o.status.success()
    {
        return GpuList {
            gpus: parse_smi(&String::from_utf8_lossy(&o.stdout)),
            source: GpuSource::NvidiaSmi,
        };
    }
    let root = Path::new("/proc/driver/nvidia");
    let Ok(dirs) = std::fs::read_dir(root.join("gpus")) else {
        return GpuList {
            gpus: Vec::new(),
            source: GpuSource::None,
        };
    };
    let driver = std::fs::read_to_string(root.join("version"))
        .ok()
        .and_then(|v| parse_driver_version(&v));
    let mut infos: Vec<String> = dirs
        .flatten()
        .filter_map(|d| std::fs::read_to_string(d.path().join("information")).ok())
        .collect();
    infos.sort();
    let gpus = infos
        .iter()
        .enumerate()
        .map(|(i, text)| Gpu {
            index: u32::try_from(i).unwrap_or(u32::MAX),
            name: parse_model(text).unwrap_or_else(|| "NVIDIA GPU".into()),
            memory_mib: None,
            driver: driver.clone(),
        })
        .collect();
    GpuList {
        gpus,
        source: GpuSource::ProcDriver,
    }
}

/// Parses `index, name, memory.total [MiB], driver_version` lines.
fn parse_smi(text: &str) -> Vec<Gpu> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').map(str::trim).collect();
            let [index, name, mem, driver] = f.as_slice() else {
                return None;
            };
            Some(Gpu {
                index: index.parse().ok()?,
                name: (*name).to_string(),
                memory_mib: mem.parse().ok(),
                driver: Some((*driver).to_string()).filter(|d| !d.is_empty()),
            })
        })
        .collect()
}

/// `Model:   NVIDIA H200` from a `/proc/driver/nvidia/gpus/*/information` file.
fn parse_model(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("Model:"))
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty())
}

/// `NVRM version: NVIDIA UNIX x86_64 Kernel Module  580.65.06  ...` -> `580.65.06`.
fn parse_driver_version(text: &str) -> Option<String> {
    let line = text.lines().find(|l| l.starts_with("NVRM version"))?;
    line.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_nvidia_smi_query() {
        let g = parse_smi(
            "0, NVIDIA H200, 143771, 580.95.05\n1, NVIDIA H100 80GB HBM3, 81559, 580.95.05\ngarbage\n",
        );
        assert_eq!(g.len(), 2);
        assert_eq!(g[0].name, "NVIDIA H200");
        assert_eq!(g[0].memory_mib, Some(143771));
        assert_eq!(g[1].index, 1);
        assert_eq!(g[1].driver.as_deref(), Some("580.95.05"));
    }

    #[test]
    fn parses_proc_driver_files() {
        let info = "Model: \t\t NVIDIA H200\nIRQ:   0\nGPU UUID: \t GPU-1234\n";
        assert_eq!(parse_model(info).as_deref(), Some("NVIDIA H200"));
        assert_eq!(parse_model("IRQ: 0\n"), None);
        let v = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.65.06  Release Build  (dvs-builder@U16-I3-B13-2-2)  Sun Jul 27 06:54:38 UTC 2025\nGCC version:  gcc version 13.3.0\n";
        assert_eq!(parse_driver_version(v).as_deref(), Some("580.65.06"));
    }
}
