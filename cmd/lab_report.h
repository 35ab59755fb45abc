/* peregrine lab report DIR (docs/lab-report.md). */
#ifndef PEREGRINE_CMD_LAB_REPORT_H
#define PEREGRINE_CMD_LAB_REPORT_H

/* DIR/index.html from DIR/data/report.json and the files it names: 0, or 1
 * after saying why. */
int lab_report(const char *dir);

#endif
