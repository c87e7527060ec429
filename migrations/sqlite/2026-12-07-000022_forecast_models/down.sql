DROP TABLE forecast_models;
