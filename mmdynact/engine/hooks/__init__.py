from .dyrelu_temperature_hook import DyReLUTemperatureHook

__all__ = ['DyReLUTemperatureHook']
