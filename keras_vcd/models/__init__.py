"""The VCD model, its objectives and its control variates."""

from keras_vcd.models.control_variates import GlobalControlVariate, LocalControlVariate
from keras_vcd.models.vcd_model import VCDModel

__all__ = ["GlobalControlVariate", "LocalControlVariate", "VCDModel"]
