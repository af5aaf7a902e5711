# The traversal matrix: for each NAT pair (column, the record's label, as
# natlab punch-matrix names it "A+B") and technique (row), the share of the
# trials that started and connected. Red never worked, green always did, grey
# had no trial that started. Each cell reads successes/trials, then the trials
# that never started, if any. A cell framed in black, reading CONTRADICTION,
# went against natprobe's own prediction (agrees false in the record).
#
# Input: matrix.dat, written by natreport --plots. One line per pair and
# technique: column, row, success rate (0-100; -1 when no trial started),
# trials started, successes, trials, setup failures, contradiction (1 or 0),
# technique, pair and expected result in quotes.
# Output: matrix.png and matrix.svg. Run it again in the folder:
# gnuplot matrix.gp

stats 'matrix.dat' using 1:2 nooutput
columns = STATS_max_x + 1
rows = STATS_max_y + 1
stats 'matrix.dat' using 8 nooutput
contradictions = int(STATS_sum)
stats 'matrix.dat' using (strlen(strcol(10))) nooutput
below = 7 * STATS_max  # room for the longest pair name, written downwards
stats 'matrix.dat' using (strlen(strcol(9))) nooutput
left = 7 * STATS_max  # and for the longest technique name, beside the rows
width = 160 + left + 135 * columns  # each column about 135 pixels: CONTRADICTION fits

set title sprintf('Traversal matrix: success rate by NAT pair and technique (%d contradiction%s framed)', \
	contradictions, contradictions == 1 ? '' : 's')
set xrange [-0.5:columns-0.5]
set yrange [rows-0.5:-0.5]
set xtics rotate by 90 right
set ytics scale 0
set cbrange [0:100]
set cblabel 'success % of the trials that started'
set palette defined (0 '#d73027', 50 '#fee08b', 100 '#1a9850')
unset key
set style fill solid 1.0 border lc rgb 'white'

cell(x) = sprintf('%d/%d', $5, $6) . ($7 > 0 ? sprintf("\n%d setup failed", $7) : '') \
	. ($8 > 0 ? "\nCONTRADICTION" : '')
rated(y) = $3 < 0 ? 1/0 : y
unrated(y) = $3 < 0 ? y : 1/0
framed(y) = $8 > 0 ? y : 1/0

do for [fmt in 'png svg'] {
	if (fmt eq 'png') {
		set terminal pngcairo noenhanced size width,160+70*rows+below font ',10'
		set output 'matrix.png'
	} else {
		set terminal svg noenhanced size width,160+70*rows+below dynamic font ',10'
		set output 'matrix.svg'
	}
	plot 'matrix.dat' using 1:(rated($2)):($1-0.5):($1+0.5):($2-0.5):($2+0.5):3 \
		with boxxyerror fc palette, \
	     '' using 1:(unrated($2)):($1-0.5):($1+0.5):($2-0.5):($2+0.5) \
		with boxxyerror fc rgb '#bdbdbd', \
	     '' using 1:(framed($2)):($1-0.47):($1+0.47):($2-0.47):($2+0.47) \
		with boxxyerror fs empty lc rgb 'black' lw 4, \
	     '' using 1:2:(cell(0)):xtic(10):ytic(9) with labels font ',9'
}
