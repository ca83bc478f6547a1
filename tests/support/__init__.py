"""What the tests share: builders of inputs and configs, real processes (brokers, servers, pump itself) and checks."""
