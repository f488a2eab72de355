"""vidcolor: batch colorization of videos, photos and photo archives."""
