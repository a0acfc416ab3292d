"""CDK constructs for shotwire: one module per concern, composed by `infra.stack.ShotwireStack`."""
