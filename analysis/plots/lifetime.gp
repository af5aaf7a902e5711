# Binding lifetimes: for each device and flow, the longest idle time after
# which the binding still carried a packet (filled dot) and the shortest after
# which it no longer did (open circle). The binding expired between the two;
# a triangle is a binding still alive at the longest wait natprobe tried.
# The dashed line is RFC 4787 REQ-5's floor: no expiry under 2 minutes.
#
# Input: lifetime.dat, written by natreport --plots. One line per device:
# index, name in quotes, then outbound-only alive and dead (seconds), then
# bidirectional alive and dead; '-' where a bound is unknown.
# Output: lifetime.png and lifetime.svg. Run it again in the folder:
# gnuplot lifetime.gp

set datafile missing '-'
stats 'lifetime.dat' using 1 nooutput
devices = STATS_records

set title 'UDP binding lifetime: last alive and first dead idle time'
set ylabel 'idle time (s)'
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set xrange [-0.6:devices-0.4]
set xtics rotate by -30 left
set key below
set grid ytics
set arrow from graph 0, first 120 to graph 1, first 120 nohead dt 2 lc rgb '#c03030'
set label 'RFC 4787 REQ-5: 120 s' at graph 0.01, first 120 offset 0,0.7 tc rgb '#c03030'

set terminal pngcairo noenhanced size 900,500 font ',10'
set output 'lifetime.png'
plot 'lifetime.dat' using ($1-0.12):3:(0):($4-$3) with vectors nohead lc 1 notitle, \
     '' using ($1-0.12):3:xtic(2) with points pt 7 lc 1 title 'outbound only: alive', \
     '' using ($1-0.12):4 with points pt 6 ps 1.5 lc 1 title 'outbound only: dead', \
     '' using ($1-0.12):(valid(4) ? 1/0 : $3) with points pt 8 ps 1.8 lc 1 \
	title 'outbound only: alive at the longest wait', \
     '' using ($1+0.12):5:(0):($6-$5) with vectors nohead lc 2 notitle, \
     '' using ($1+0.12):5 with points pt 7 lc 2 title 'bidirectional: alive', \
     '' using ($1+0.12):6 with points pt 6 ps 1.5 lc 2 title 'bidirectional: dead', \
     '' using ($1+0.12):(valid(6) ? 1/0 : $5) with points pt 8 ps 1.8 lc 2 \
	title 'bidirectional: alive at the longest wait'

set terminal svg noenhanced size 900,500 dynamic font ',10'
set output 'lifetime.svg'
replot
