//! Execution providers: which one a session runs on, and registering the GPU ones on a
//! session builder (failing, never silently falling back, when they cannot start).

use std::fmt;

use ort::session::builder::SessionBuilder;

use crate::runtime::{self, Device};

/// The execution provider a session runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// ONNX Runtime's CPU provider.
    Cpu,
    /// CUDA on a device.
    Cuda {
        /// The CUDA device index.
        device: u32,
    },
    /// TensorRT (with CUDA for the rest) on a device.
    TensorRt {
        /// The CUDA device index.
        device: u32,
    },
}

impl ExecutionProvider {
    /// ONNX Runtime's name for it, as used in node placements.
    pub fn ort_name(self) -> &'static str {
        match self {
            Self::Cpu => "CPUExecutionProvider",
            Self::Cuda { .. } => "CUDAExecutionProvider",
            Self::TensorRt { .. } => "TensorrtExecutionProvider",
        }
    }
}

impl fmt::Display for ExecutionProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => f.write_str("CPU"),
            Self::Cuda { device } => write!(f, "CUDA:{device}"),
            Self::TensorRt { device } => write!(f, "TensorRT:{device}"),
        }
    }
}

/// The GPU execution provider an explicit `device` asks for (`None` for the CPU and auto).
pub(crate) fn gpu_provider_of(device: Device) -> Option<ExecutionProvider> {
    match device {
        Device::Cuda(n) => Some(ExecutionProvider::Cuda { device: n }),
        Device::TensorRt(n) => Some(ExecutionProvider::TensorRt { device: n }),
        Device::Cpu | Device::Auto => None,
    }
}

/// Registers the GPU provider(s) for `ep` on the builder, failing (never falling back)
/// when they cannot start. The reason says what to install.
#[cfg_attr(
    not(any(feature = "cuda", feature = "tensorrt")),
    allow(
        unused_variables,
        unused_mut,
        reason = "GPU providers are compiled out"
    )
)]
pub(crate) fn register_gpu(
    rt: &runtime::Runtime,
    mut b: SessionBuilder,
    ep: ExecutionProvider,
) -> Result<SessionBuilder, String> {
    let gpu_hint = format!(
        "the CUDA provider needs `pip install onnxruntime-gpu=={}` (CUDA 13, cuDNN 9) and an \
         NVIDIA driver for CUDA 13; the library in use is {}",
        runtime::TESTED_ORT_VERSION,
        rt.library().display()
    );
    match ep {
        ExecutionProvider::Cpu => Ok(b),
        ExecutionProvider::Cuda { device } => {
            #[cfg(feature = "cuda")]
            {
                if !rt.has_cuda() {
                    return Err(format!(
                        "this ONNX Runtime library has no CUDA execution provider; {gpu_hint}"
                    ));
                }
                let d = ort::ep::CUDA::default()
                    .with_device_id(device as i32)
                    .build()
                    .error_on_failure();
                d.register(&mut b)
                    .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                Ok(b)
            }
            #[cfg(not(feature = "cuda"))]
            {
                Err(format!(
                    "this img23d was built without the `cuda` feature (cargo build --release \
                     --features cuda); {gpu_hint}"
                ))
            }
        }
        ExecutionProvider::TensorRt { device } => {
            #[cfg(feature = "tensorrt")]
            {
                if !rt.has_tensorrt() {
                    return Err(format!(
                        "this ONNX Runtime library has no TensorRT execution provider \
                         (it needs onnxruntime-gpu and TensorRT 10); {gpu_hint}"
                    ));
                }
                let d = ort::ep::TensorRT::default()
                    .with_device_id(device as i32)
                    .build()
                    .error_on_failure();
                d.register(&mut b)
                    .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                #[cfg(feature = "cuda")]
                {
                    let c = ort::ep::CUDA::default()
                        .with_device_id(device as i32)
                        .build()
                        .error_on_failure();
                    c.register(&mut b)
                        .map_err(|e| format!("{}; {gpu_hint}", e.to_string().trim_end()))?;
                }
                Ok(b)
            }
            #[cfg(not(feature = "tensorrt"))]
            {
                let _ = device;
                Err(format!(
                    "this img23d was built without the `tensorrt` feature; {gpu_hint}"
                ))
            }
        }
    }
}
