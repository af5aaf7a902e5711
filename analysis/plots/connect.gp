# Connect times of the traversal trials: for each device and technique, the
# share of successful trials that had connected by a given time (a CDF).
# A curve far to the left connects fast; one that stays low rarely connects.
#
# Input: connect.dat, written by natreport --plots. One block per device and
# technique, blocks separated by two blank lines; each starts with a title in
# quotes, then one successful trial's connect time (ms) per line.
# Output: connect.png and connect.svg. Run it again in the folder:
# gnuplot connect.gp

stats 'connect.dat' using 1 nooutput
curves = STATS_blocks

set title 'Traversal connect time (CDF of successful trials)'
set xlabel 'connect time (ms)'
set ylabel 'share of successful trials'
set yrange [0:1.05]
set xrange [0:*]
set key outside right top
set grid

set terminal pngcairo noenhanced size 900,500 font ',10'
set output 'connect.png'
plot for [i=0:curves-1] 'connect.dat' index i using 1:(1) smooth cnormal lw 2 \
	title columnheader(1)

set terminal svg noenhanced size 900,500 dynamic font ',10'
set output 'connect.svg'
replot
