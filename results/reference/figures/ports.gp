# Port allocation, one panel per device: the public port each of natprobe's
# sockets got, in the order they were opened (dots on a line), and the
# socket's own local port (open circle). A port-preserving NAT puts each dot
# inside its circle; a sequential one draws a straight rising line whatever
# the local ports; a random one scatters away from the circles.
#
# Input: ports.dat, written by natreport --plots. One block per device, blocks
# separated by two blank lines; each block starts with the device's name in
# quotes, then one line per socket: probe index, public port, local port ('-'
# when the record lacks it).
# Output: ports.png and ports.svg. Run it again in the folder: gnuplot ports.gp

set datafile missing '-'
stats 'ports.dat' using 2 nooutput
devices = STATS_blocks
cols = devices < 3 ? devices : 3
rows = (devices + cols - 1) / cols

set xlabel 'probe'
set ylabel 'port'
set format y '%.0f'
set yrange [0:65535]
set ytics 16384
set xtics 5
set grid
set key outside top center horizontal samplen 1

do for [fmt in 'png svg'] {
	if (fmt eq 'png') {
		set terminal pngcairo noenhanced size 900,60+260*rows font ',9'
		set output 'ports.png'
	} else {
		set terminal svg noenhanced size 900,60+260*rows dynamic font ',9'
		set output 'ports.svg'
	}
	set multiplot layout rows,cols \
		title 'Port allocation: public port (dot) and local port (circle) by probe'
	do for [i=0:devices-1] {
		plot 'ports.dat' index i using 1:2 with linespoints pt 7 ps 0.6 lc 1 \
			title columnheader(1), \
		     '' index i using 1:3 with points pt 6 ps 1.2 lc 2 notitle
	}
	unset multiplot
}
