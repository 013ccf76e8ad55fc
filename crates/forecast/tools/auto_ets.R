# R's automatic ETS (forecast::ets, chosen by AICc) on the hold-out of every series of a
# Monash .tsf file, to judge Ordo's own `ets` reference against the standard one.
#
#   Rscript auto_ets.R FILE.tsf HORIZON SEASON OUT.csv   (Debian: apt-get install r-cran-forecast)
#
# Writes one line per series long enough to score: its name, then R's ETS forecast and R's SES
# forecast, each as HORIZON numbers joined by ';'. A fit that fails forecasts zeros, as a
# method Ordo cannot fit does. `score_tsf.py` scores the lines as `ordo forecast evaluate` does.
suppressMessages(library(forecast))
args <- commandArgs(trailingOnly = TRUE)
file <- args[1]; h <- as.integer(args[2]); season <- as.integer(args[3]); out <- args[4]
lines <- readLines(file)
data <- lines[(which(lines == "@data") + 1):length(lines)]
con <- file(out, "w")
for (line in data) {
  parts <- strsplit(line, ":")[[1]]
  y <- as.numeric(strsplit(parts[length(parts)], ",")[[1]])
  n <- length(y)
  if (n <= h + 1) next
  train <- ts(y[1:(n - h)], frequency = season)
  ets_mean <- tryCatch(as.numeric(forecast(suppressWarnings(ets(train)), h = h)$mean), error = function(e) rep(0, h))
  ses_mean <- tryCatch(as.numeric(ses(train, h = h)$mean), error = function(e) rep(0, h))
  writeLines(paste(parts[1], paste(format(ets_mean, digits = 10), collapse = ";"), paste(format(ses_mean, digits = 10), collapse = ";"), sep = ","), con)
}
close(con)
