"""Statistical process control: control charts, run rules and process capability."""
