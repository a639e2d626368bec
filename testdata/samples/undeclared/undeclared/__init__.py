import datetime


def today_iso():
    return datetime.date.today().isoformat()
