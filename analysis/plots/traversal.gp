# Traversal success: for each device (row) and technique (column), the share
# of the trials that started that connected (setup failures are not punch
# failures). Red never worked, green always did, grey had no trial that
# started; a blank cell is a technique that was not tried.
#
# Input: traversal.dat, written by natreport --plots. One line per device and
# technique tried: column, row, success rate (0-100; -1 when no trial
# started), trials started, technique and device names in quotes.
# Output: traversal.png and traversal.svg. Run it again in the folder:
# gnuplot traversal.gp

stats 'traversal.dat' using 1:2 nooutput
columns = STATS_max_x + 1
rows = STATS_max_y + 1

set title 'Traversal success rate (successful / trials started)'
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
# Grey cells (no trial started) apart from rated ones; the names from every
# cell, on an invisible layer of their own.
rated(y) = $3 < 0 ? 1/0 : y
unrated(y) = $3 < 0 ? y : 1/0
plot 'traversal.dat' using 1:(rated($2)):($1-0.5):($1+0.5):($2-0.5):($2+0.5):3 \
	with boxxyerror fc palette, \
     '' using 1:(unrated($2)):($1-0.5):($1+0.5):($2-0.5):($2+0.5) \
	with boxxyerror fc rgb '#bdbdbd', \
     '' using 1:2:xtic(5):ytic(6) with points pt -1, \
     '' using 1:2:($3 < 0 ? 'none started' : sprintf('%.0f%% of %d', $3, $4)) \
	with labels

set terminal svg noenhanced size 900,160+40*rows dynamic font ',10'
set output 'traversal.svg'
replot
