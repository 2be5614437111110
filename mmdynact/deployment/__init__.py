"""Deployment: ONNX export of our configs' models, checked by onnxruntime.

See :mod:`.onnx_export` (both of torch's exporters), :mod:`.adaptive_pool`
(PSPNet's pyramid pooling for any input size) and
:mod:`.onnxruntime_check`; the tool is ``tools/deployment/pytorch2onnx.py``.
"""
from .adaptive_pool import (ExportableAdaptiveAvgPool2d,
                            make_adaptive_pools_exportable)
from .onnx_export import (DEFAULT_OPSETS, DYNAMIC_DIMS, INPUT_NAME,
                          check_onnx_file, export_onnx, exportable_copy,
                          output_names)
from .onnxruntime_check import (DEFAULT_RTOL, Difference,
                                compare_with_onnxruntime, float32_rounding,
                                random_batch, run_onnxruntime, second_shape)

__all__ = [
    'ExportableAdaptiveAvgPool2d', 'make_adaptive_pools_exportable',
    'DEFAULT_OPSETS', 'DYNAMIC_DIMS', 'INPUT_NAME', 'check_onnx_file',
    'export_onnx', 'exportable_copy', 'output_names', 'DEFAULT_RTOL',
    'Difference', 'compare_with_onnxruntime', 'float32_rounding',
    'random_batch', 'run_onnxruntime', 'second_shape'
]
