# Traversal success: for each device (row) and technique (column), the share
# of trials that connected. Red never worked, green always did; a blank cell
# is a technique that was not tried.
#
# Input: traversal.dat, written by natreport --plots. One line per device and
# technique tried: column, row, success rate (0-100), trials, technique and
# device names in quotes.
# Output: traversal.png and traversal.svg. Run it again in the folder:
# gnuplot traversal.gp

stats 'traversal.dat' using 1:2 nooutput
columns = STATS_max_x + 1
rows = STATS_max_y + 1

set title 'Traversal success rate (successful / trials)'
set xrange [-0.5:columns-0.5]
set yrange [rows-0.5:-0.5]
set xtics rotate by -30 left
set cbrange [0:100]
set cblabel 'success %'
set palette defined (0 '#d73027', 50 '#fee08b', 100 '#1a9850')
unset key
set style fill solid 1.0 border lc rgb 'white'

set terminal pngcairo noenhanced size 900,160+40*rows font ',10'
set output 'traversal.png'
plot 'traversal.dat' using 1:2:($1-0.5):($1+0.5):($2-0.5):($2+0.5):3:xtic(5):ytic(6) \
	with boxxyerror fc palette, \
     '' using 1:2:(sprintf('%.0f%% of %d', $3, $4)) with labels

set terminal svg noenhanced size 900,160+40*rows dynamic font ',10'
set output 'traversal.svg'
replot
