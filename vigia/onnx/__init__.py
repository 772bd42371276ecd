"""The ONNX form of a bundle, for edge devices, browsers and the server's compiled runtime.

``convert`` and ``parity`` need scikit-learn and skl2onnx; ``runner`` and ``manifest``
need only numpy and onnxruntime, so a device can run the model without scikit-learn.
Nothing is imported here: importing ``vigia.onnx.runner`` stays light.
"""
