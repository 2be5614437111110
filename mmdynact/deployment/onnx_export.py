"""ONNX export of a module taking one image batch ``(N, 3, H, W)``.

Both of torch's exporters, through ``torch.onnx.export``: the legacy
TorchScript-based one (``dynamo=False``) and the ``torch.export``-based one
(``dynamo=True``, which needs onnxscript). The module is exported in eval
mode; mmdynact's layers export as their plain formulas (see
:mod:`mmdynact.models.activations.dispatch`), and the written graph is checked
to hold standard ONNX ops only.
"""
import copy
import importlib.util
import warnings
from typing import Any, Dict, List, Optional

import torch
from mmengine.model import revert_sync_batchnorm
from torch import Tensor, nn
from torch.utils._pytree import tree_leaves

from .adaptive_pool import make_adaptive_pools_exportable

#: the graph's input
INPUT_NAME = 'inputs'
#: its dynamic dimensions with ``dynamic=True``
DYNAMIC_DIMS = {0: 'batch', 2: 'height', 3: 'width'}
#: default opset per exporter: the legacy one's usual 17, and 18, the
#: lowest the dynamo exporter writes without converting versions
DEFAULT_OPSETS = {False: 17, True: 18}
#: ONNX's standard operator domains
STANDARD_DOMAINS = ('', 'ai.onnx')
INSTALL_HINT = ('pip install onnx onnxruntime onnxscript -c '
                'requirements/constraints.txt (the tests extra of mmdynact '
                'has them)')


def require(package: str, purpose: str) -> None:
    """Raise an ImportError naming ``package``, ``purpose`` and the fix."""
    if importlib.util.find_spec(package) is None:
        raise ImportError(f'{purpose} needs {package}, which is not '
                          f'installed: {INSTALL_HINT}')


def output_names(outputs: Any) -> List[str]:
    """Names of the graph's outputs: ``output`` for one tensor, else
    ``output_0``, ``output_1``, ... in the order of the flattened nesting
    (e.g. a detector's per-level class scores, then its box regressions)."""
    leaves = tree_leaves(outputs)
    if not all(isinstance(leaf, Tensor) for leaf in leaves):
        kinds = sorted({type(leaf).__name__ for leaf in leaves})
        raise TypeError(f'the exported module must return tensors (nested '
                        f'in tuples, lists or dicts), got {kinds}')
    if len(leaves) == 1:
        return ['output']
    return [f'output_{index}' for index in range(len(leaves))]


def exportable_copy(module: nn.Module) -> nn.Module:
    """An eval-mode copy of ``module`` ready for ONNX: SyncBN as BN, and
    adaptive average pools that hold for any input size
    (:mod:`.adaptive_pool`). ``module`` itself is left as it is."""
    module = revert_sync_batchnorm(copy.deepcopy(module)).eval()
    make_adaptive_pools_exportable(module)
    return module


def export_onnx(module: nn.Module,
                inputs: Tensor,
                path: str,
                dynamic: bool = False,
                opset: Optional[int] = None,
                dynamo: bool = False) -> List[str]:
    """Export ``module(inputs)`` to the ONNX file ``path``.

    Args:
        module: Takes the batch ``inputs`` and returns tensors (nested in
            tuples or lists); exported as :func:`exportable_copy`.
        inputs: The example batch ``(N, C, H, W)``.
        path: The ``.onnx`` file to write (weights inside).
        dynamic: Batch size, height and width as dynamic dimensions
            (:data:`DYNAMIC_DIMS`); otherwise the sizes of ``inputs``.
        opset: ONNX opset; by default :data:`DEFAULT_OPSETS`.
        dynamo: Use the ``torch.export``-based exporter.

    Returns:
        The graph's output names (:func:`output_names`).
    """
    require('onnx', 'ONNX export')
    if dynamo:
        require('onnxscript', 'the dynamo ONNX exporter')
    opset = DEFAULT_OPSETS[dynamo] if opset is None else opset
    module = exportable_copy(module)
    with torch.no_grad():
        names = output_names(module(inputs))
    kwargs: Dict[str, Any] = dict(
        input_names=[INPUT_NAME], output_names=names, opset_version=opset)
    with torch.no_grad(), warnings.catch_warnings():
        # the legacy exporter's deprecation notice, tracer warnings on
        # Python-side size arithmetic (a second input size verifies it),
        # and torch.export's own use of a deprecated pytree API
        warnings.simplefilter('ignore', DeprecationWarning)
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', '.*LeafSpec', category=FutureWarning)
        if dynamo:
            dims = {
                axis: torch.export.Dim(name)
                for axis, name in DYNAMIC_DIMS.items()
            }
            torch.onnx.export(
                module, (inputs, ),
                path,
                dynamo=True,
                external_data=False,
                dynamic_shapes=(dims, ) if dynamic else None,
                verbose=False,
                **kwargs)
        else:
            torch.onnx.export(
                module, (inputs, ),
                path,
                dynamo=False,
                dynamic_axes={INPUT_NAME: DYNAMIC_DIMS} if dynamic else None,
                **kwargs)
    check_onnx_file(path, opset)
    return names


def check_onnx_file(path: str, opset: int) -> None:
    """Raise if the model in ``path`` is invalid, has another opset than
    ``opset`` or holds an op of a custom domain (no ONNX runtime would know
    it)."""
    import onnx
    model = onnx.load(path)
    onnx.checker.check_model(model)
    versions = {entry.domain: entry.version for entry in model.opset_import}
    written = versions.get('', versions.get('ai.onnx'))
    if written != opset:
        raise RuntimeError(
            f'{path}: torch wrote opset {written}, not the {opset} asked '
            f'for (the dynamo exporter converts from opset 18 and keeps 18 '
            f'where it cannot); ask for opset {written}, or use the legacy '
            f'exporter for older opsets')
    custom = sorted({
        f'{node.domain}::{node.op_type}'
        for node in _all_nodes(model) if node.domain not in STANDARD_DOMAINS
    })
    if custom:
        raise RuntimeError(f'{path} holds ops outside the standard ONNX '
                           f'domain: {custom}; a layer did not export as '
                           f'its plain formula')


def _all_nodes(model) -> list:
    """The nodes of the graph, its subgraphs and its local functions."""
    from onnx import AttributeProto
    nodes = []
    graphs = [model.graph, *model.functions]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            nodes.append(node)
            for attr in node.attribute:
                if attr.type == AttributeProto.GRAPH:
                    graphs.append(attr.g)
                graphs += attr.graphs
    return nodes
