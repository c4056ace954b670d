"""Data layer, one job per module.

containers  SequenceData, AnomalyDataset, MovingDigits
missing     fill policies for missing values (fill_missing) and their messages
formats     CSV / Parquet / NumPy readers (to a DataFrame or array) and write_table
tables      read_table: a file -> SequenceData (column roles, long / rows layouts, 3-D arrays)
windows     sliding windows over a series and the way back (reverse_windowing)
synthetic   generated datasets: load_tutorial, make_sines, make_moving_digits
datasets    the registry (list_datasets, load_dataset) and real data read from aeon (load_real)
sequences   padding of variable-length sequences; scaling: feature scaling
"""
