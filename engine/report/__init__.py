"""Reports: every Plotly figure (figures.py), PDF and HTML composition, exports."""
