"""Time-series forecasting: an RNN / LSTM / GRU forecaster judged against naive, seasonal and statsmodels baselines."""
