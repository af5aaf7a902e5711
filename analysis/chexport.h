/* `natreport export`: records to ClickHouse over its HTTP interface. */
#ifndef NATLAB_ANALYSIS_CHEXPORT_H
#define NATLAB_ANALYSIS_CHEXPORT_H

/* The subcommand: argv[0] is "export". Its exit status. */
int ch_export_main(int argc, char **argv, unsigned threads);

#endif
