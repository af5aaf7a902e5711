# Survey: for each test, the share of records that gave each verdict, as one
# bar of 100%. Segments wide enough carry the verdict's name; every segment's
# count is in the report's survey table.
#
# Input: survey.dat, written by natreport --plots. One line per test and
# verdict: row, test name in quotes, start and end of the segment (percent),
# verdict in quotes, records, colour index.
# Output: survey.png and survey.svg. Run it again in the folder:
# gnuplot survey.gp

stats 'survey.dat' using 1 nooutput
rows = STATS_max + 1

set title 'Share of each verdict over all records'
set xlabel 'records (%)'
set xrange [0:100]
set yrange [rows-0.5:-0.5]
set ytics scale 0
unset key
set style fill solid 0.9 border lc rgb 'white'

set terminal pngcairo noenhanced size 900,120+36*rows font ',10'
set output 'survey.png'
plot 'survey.dat' using (($3+$4)/2):1:3:4:($1-0.35):($1+0.35):7:ytic(2) \
	with boxxyerror lc variable, \
     '' using (($3+$4)/2):1:(($4-$3) >= 9 ? stringcolumn(5) : '') with labels font ',8'

set terminal svg noenhanced size 900,120+36*rows dynamic font ',10'
set output 'survey.svg'
replot
