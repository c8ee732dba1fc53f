"""What members do at stations: scan, claim water, check in, rate; campaigns, stock,
QR codes and posters."""
